// Boundary verification, I/O: gathers the snapshot boundary/verify.ts verifies, runs the
// SubjectAccessReviews it plans, and probes the agents' webhook endpoint.
//
// Listing fails loudly (a verification over a partial view would report a clean
// boundary it never saw); individual SubjectAccessReviews that fail are left out, which
// the pure side reports as ReviewMissing rather than as clean.
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { AgentgateClient, errorMessage, isForbidden, isNotFound, statusCode } from '../lib/kube.js';
import { AGENTGATE_NAMESPACE, AGENTS_WEBHOOK, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { planAccessReviews } from './verify.js';
import type { AccessReviewResult, Binding, BoundarySnapshot, PlannedReview, RoleObject, SnapshotWithoutReviews, WebhookConfiguration, WebhookEntry, WebhookProbe } from './types.js';

export interface CollectOptions {
  /** Only these agents (their reviews are the expensive part). */
  agents?: string[];
  /** Probe the webhook endpoint (default true). */
  probe?: boolean;
  /** Per-probe timeout (default 5 s). */
  probeTimeoutMs?: number;
  /** Concurrent SubjectAccessReviews (default 16). */
  concurrency?: number;
  agentgateNamespace?: string;
}

/** A listing the verifier needs but may not do; says which permission is missing. */
export class SnapshotError extends Error {}

// 429 (e.g. "storage is (re)initializing" right after a CRD install) and 5xx pass.
async function retrying<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = statusCode(e) ?? 0;
      if (i >= attempts || !(code === 429 || code >= 500)) throw e;
      await new Promise((r) => setTimeout(r, 250 * 2 ** i));
    }
  }
}

async function listing<T>(what: string, fn: () => Promise<{ items: T[] }>): Promise<T[]> {
  try {
    return (await retrying(fn)).items;
  } catch (e) {
    if (isForbidden(e)) {
      throw new SnapshotError(`cannot list ${what}: ${errorMessage(e)}. Boundary verification needs to read RBAC, namespaces, ServiceAccounts, webhook configurations and agentgate objects cluster-wide (run it as a cluster admin, or as the operator's ServiceAccount)`);
    }
    throw new SnapshotError(`cannot list ${what}: ${errorMessage(e)}`);
  }
}

async function readOptional<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await retrying(fn);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw new SnapshotError(`cannot read webhook configuration: ${errorMessage(e)}`);
  }
}

/** Objects only; the reviews and probes come after (they depend on what was listed). */
export async function collectObjects(kc: k8s.KubeConfig, options: Pick<CollectOptions, 'agentgateNamespace'> = {}): Promise<SnapshotWithoutReviews> {
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const ag = new AgentgateClient(kc);
  const [agents, grants, roleBindings, clusterRoleBindings, roles, clusterRoles, namespaces, serviceAccounts, agentsHook, protectHook, stampHook] = await Promise.all([
    listing('agentidentities.agentgate.io', () => ag.list<AgentIdentity>('AgentIdentity')),
    listing('accessgrants.agentgate.io', async () => ({ items: (await ag.list<AccessGrant>('AccessGrant')).items })),
    listing('rolebindings', () => rbac.listRoleBindingForAllNamespaces()),
    listing('clusterrolebindings', () => rbac.listClusterRoleBinding()),
    listing('roles', () => rbac.listRoleForAllNamespaces()),
    listing('clusterroles', () => rbac.listClusterRole()),
    listing('namespaces', () => core.listNamespace()),
    listing('serviceaccounts', () => core.listServiceAccountForAllNamespaces()),
    readOptional(() => admission.readValidatingWebhookConfiguration({ name: AGENTS_WEBHOOK })),
    readOptional(() => admission.readValidatingWebhookConfiguration({ name: PROTECT_WEBHOOK })),
    readOptional(() => admission.readMutatingWebhookConfiguration({ name: STAMP_WEBHOOK })),
  ]);
  const webhooks: SnapshotWithoutReviews['webhooks'] = {};
  if (agentsHook) webhooks.agents = agentsHook as WebhookConfiguration;
  if (protectHook) webhooks.protect = protectHook as WebhookConfiguration;
  if (stampHook) webhooks.stamp = stampHook as WebhookConfiguration;
  return {
    agents,
    grants,
    roleBindings: roleBindings as Binding[],
    clusterRoleBindings: clusterRoleBindings as Binding[],
    roles: roles as RoleObject[],
    clusterRoles: clusterRoles as RoleObject[],
    namespaces: namespaces.map((n) => ({ name: n.metadata?.name ?? '', ...(n.metadata?.labels ? { labels: n.metadata.labels } : {}) })),
    serviceAccounts: serviceAccounts.map((s) => ({ namespace: s.metadata?.namespace ?? '', name: s.metadata?.name ?? '' })),
    webhooks,
    agentgateNamespace: options.agentgateNamespace ?? AGENTGATE_NAMESPACE,
  };
}

async function pool<T, R>(items: readonly T[], concurrency: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

/** Runs the planned SubjectAccessReviews; a review that fails is left out (-> ReviewMissing). */
export async function runAccessReviews(kc: k8s.KubeConfig, plan: readonly PlannedReview[], concurrency = 16): Promise<{ results: AccessReviewResult[]; errors: string[] }> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const errors: string[] = [];
  const results = await pool(plan, concurrency, async (r): Promise<AccessReviewResult | undefined> => {
    const resourceAttributes: k8s.V1ResourceAttributes = { verb: r.verb, group: r.group, resource: r.resource, namespace: r.namespace };
    if (r.subresource) resourceAttributes.subresource = r.subresource;
    if (r.name) resourceAttributes.name = r.name;
    const spec: k8s.V1SubjectAccessReviewSpec = { groups: r.principal.groups, resourceAttributes };
    if (r.principal.user) spec.user = r.principal.user;
    try {
      const res = await authz.createSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec } });
      const st = res.status;
      const out: AccessReviewResult = { ...r, allowed: st?.allowed === true };
      if (st?.reason) out.reason = st.reason;
      if (st?.evaluationError) out.evaluationError = st.evaluationError;
      return out;
    } catch (e) {
      if (errors.length < 5) errors.push(`SubjectAccessReview ${r.verb} ${r.resource} for ${r.principal.label}: ${statusCode(e) ?? ''} ${errorMessage(e)}`.trim());
      return undefined;
    }
  });
  return { results: results.filter((x): x is AccessReviewResult => x !== undefined), errors };
}

function getHealthz(url: URL, ca: string | undefined, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...(ca ? { ca } : {}), timeout: timeoutMs, headers: { accept: '*/*' } }, (res) => {
      res.resume();
      // Any HTTP answer over a verified TLS session proves the endpoint and its CA;
      // only a server error says it is unwell.
      if ((res.statusCode ?? 500) >= 500) reject(new Error(`HTTP ${res.statusCode}`));
      else resolve();
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function caOf(entry: WebhookEntry): string | undefined {
  const b64 = entry.clientConfig?.caBundle;
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

/**
 * HTTPS GET of each agents' webhook's /healthz with its caBundle. A `service` endpoint
 * is dialled directly when running in the cluster; from outside (the CLI) through the
 * apiserver's service proxy, which proves the service answers but not the CA.
 */
export async function probeWebhooks(kc: k8s.KubeConfig, cfg: WebhookConfiguration | undefined, timeoutMs = 5000): Promise<WebhookProbe[]> {
  const configuration = cfg?.metadata?.name ?? AGENTS_WEBHOOK;
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return Promise.all(
    (cfg?.webhooks ?? []).map(async (entry): Promise<WebhookProbe> => {
      const base = { configuration, webhook: entry.name };
      const cc = entry.clientConfig ?? {};
      if (cc.url) {
        const url = new URL(cc.url);
        url.pathname = '/healthz';
        url.search = '';
        try {
          await getHealthz(url, caOf(entry), timeoutMs);
          return { ...base, target: url.toString(), ok: true };
        } catch (e) {
          return { ...base, target: url.toString(), ok: false, error: (e as Error).message };
        }
      }
      if (cc.service) {
        const { name, namespace, port = 443 } = cc.service;
        if (inCluster) {
          const url = new URL(`https://${name}.${namespace}.svc:${port}/healthz`);
          try {
            await getHealthz(url, caOf(entry), timeoutMs);
            return { ...base, target: url.toString(), ok: true };
          } catch (e) {
            return { ...base, target: url.toString(), ok: false, error: (e as Error).message };
          }
        }
        const target = `service ${namespace}/${name}:${port} via the apiserver proxy`;
        try {
          await core.connectGetNamespacedServiceProxyWithPath({ name: `https:${name}:${port}`, namespace, path: 'healthz' });
          return { ...base, target, ok: true };
        } catch (e) {
          return { ...base, target, ok: false, error: errorMessage(e).slice(0, 300) };
        }
      }
      return { ...base, target: '(no url or service)', ok: false, error: 'clientConfig names no endpoint' };
    }),
  );
}

export interface CollectResult {
  snapshot: BoundarySnapshot;
  /** Reviews that failed (first few), for logs; the report shows them as ReviewMissing. */
  reviewErrors: string[];
}

/** Gathers everything verifyAgents() needs from a live cluster. */
export async function collectSnapshot(kc: k8s.KubeConfig, options: CollectOptions = {}): Promise<CollectResult> {
  const objects = await collectObjects(kc, options);
  const plan = planAccessReviews(objects, options.agents ? { agents: options.agents } : {});
  const [{ results, errors }, probes] = await Promise.all([
    runAccessReviews(kc, plan, options.concurrency ?? 16),
    options.probe === false ? Promise.resolve(undefined) : probeWebhooks(kc, objects.webhooks.agents, options.probeTimeoutMs),
  ]);
  const snapshot: BoundarySnapshot = { ...objects, accessReviews: results };
  if (probes) snapshot.webhookProbes = probes;
  return { snapshot, reviewErrors: errors };
}
