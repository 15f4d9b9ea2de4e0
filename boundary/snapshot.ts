// Boundary verification, I/O: gathers the snapshot boundary/verify.ts verifies, runs the
// SubjectAccessReviews it plans, and probes the agents' webhook endpoint.
//
// Listing fails loudly (a verification over a partial view would report a clean
// boundary it never saw); individual SubjectAccessReviews that fail are left out, which
// the pure side reports as ReviewMissing rather than as clean.
import { APPROVAL_POLICY } from '../lib/approval-policy.js';
import type { LiveBinding, LivePolicy } from '../lib/approval-policy.js';
import type { NetworkPolicyLike } from '../lib/webhook-exposure.js';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';
import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { AgentgateClient, apiPath, errorMessage, GV, isForbidden, isNotFound, KubeApi, statusCode } from '../lib/kube.js';
import { AGENTGATE_NAMESPACE, AGENTS_WEBHOOK, LABEL_MANAGED_BY, MANAGED_BY, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { planAccessReviews } from './verify.js';
import type {
  AccessReviewResult,
  Binding,
  BoundarySnapshot,
  PlannedReview,
  RoleObject,
  SnapshotWithoutReviews,
  WebhookConfiguration,
  WebhookEntry,
  WebhookProbe,
} from './types.js';
import { inventory } from '../lib/routes.js';
import type { ClassifiedRoute } from '../lib/routes.js';
import { discover } from '../lib/routes-discovery.js';

// The route inventory changes only when the served API (CRDs) or the roles agents may be
// granted change, so it is re-taken only then (or every INVENTORY_MAX_AGE_MS, for
// aggregated APIs), not on every verification pass.
const INVENTORY_MAX_AGE_MS = 10 * 60_000;
let inventoryCache: { key: string; at: number; routes: ClassifiedRoute[] } | undefined;

async function routeInventory(
  kc: k8s.KubeConfig,
  agents: readonly AgentIdentity[],
  clusterRoles: readonly RoleObject[],
): Promise<ClassifiedRoute[] | undefined> {
  const names = new Set(agents.flatMap((a) => (a.spec.allowedRoles ?? []).filter((r) => r.kind === 'ClusterRole').map((r) => r.name)));
  const roles = clusterRoles.filter((r) => names.has(r.metadata?.name ?? '')).map((r) => ({ name: r.metadata?.name ?? '', rules: r.rules ?? [] }));
  if (!roles.length) return [];
  try {
    const crds = await new KubeApi(kc).get<k8s.V1CustomResourceDefinitionList>(apiPath(GV.apiextensions, 'customresourcedefinitions'));
    const key = JSON.stringify([crds.items.map((c) => `${c.metadata?.name}@${c.metadata?.resourceVersion}`).sort(), roles]);
    if (inventoryCache?.key === key && Date.now() - inventoryCache.at < INVENTORY_MAX_AGE_MS) return inventoryCache.routes;
    const routes = inventory((await discover(kc)).resources, roles);
    inventoryCache = { key, at: Date.now(), routes };
    return routes;
  } catch {
    // Not allowed to list CRDs or discovery failed: no inventory this pass (the rest of the verification stands).
    return undefined;
  }
}

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
      throw new SnapshotError(
        `cannot list ${what}: ${errorMessage(e)}. Boundary verification needs to read RBAC, namespaces, ServiceAccounts, webhook configurations and agentgate objects cluster-wide (run it as a cluster admin, or as the operator's ServiceAccount)`,
      );
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

/**
 * What a caller already holds in watch caches (the operator): the AccessGrants and
 * agentgate's own RoleBindings (label managed-by=agentgate), the two sets that grow with
 * grants. With them, the listing skips grants and lists only the other RoleBindings.
 */
export interface CachedObjects {
  grants: () => readonly AccessGrant[];
  agentgateRoleBindings: () => readonly Binding[];
}

/** Objects only; the reviews and probes come after (they depend on what was listed). */
export async function collectObjects(
  kc: k8s.KubeConfig,
  options: Pick<CollectOptions, 'agentgateNamespace'> & { cached?: CachedObjects } = {},
): Promise<SnapshotWithoutReviews> {
  const cached = options.cached;
  const notAgentgate = `${LABEL_MANAGED_BY}!=${MANAGED_BY}`;
  const ag = new AgentgateClient(kc);
  const kube = ag.kube;
  const list =
    <T>(groupVersion: string, resource: string, labelSelector?: string) =>
    () =>
      kube.get<{ items: T[] }>(apiPath(groupVersion, resource), { labelSelector });
  const webhookConfiguration = (resource: string, name: string) => () => kube.get<WebhookConfiguration>(apiPath(GV.admission, resource, undefined, name));
  const [agents, grants, roleBindings, clusterRoleBindings, roles, clusterRoles, namespaces, serviceAccounts, agentsHook, protectHook, stampHook] =
    await Promise.all([
      listing('agentidentities.agentgate.io', () => ag.list<AgentIdentity>('AgentIdentity')),
      cached ? [...cached.grants()] : listing('accessgrants.agentgate.io', async () => ({ items: (await ag.list<AccessGrant>('AccessGrant')).items })),
      cached
        ? listing('rolebindings', list<Binding>(GV.rbac, 'rolebindings', notAgentgate)).then((others) => [
            ...(others as Binding[]),
            ...cached.agentgateRoleBindings(),
          ])
        : listing('rolebindings', list<Binding>(GV.rbac, 'rolebindings')),
      listing('clusterrolebindings', list<Binding>(GV.rbac, 'clusterrolebindings')),
      listing('roles', list<RoleObject>(GV.rbac, 'roles')),
      listing('clusterroles', list<RoleObject>(GV.rbac, 'clusterroles')),
      listing('namespaces', list<k8s.V1Namespace>(GV.core, 'namespaces')),
      listing('serviceaccounts', list<k8s.V1ServiceAccount>(GV.core, 'serviceaccounts')),
      readOptional(webhookConfiguration('validatingwebhookconfigurations', AGENTS_WEBHOOK)),
      readOptional(webhookConfiguration('validatingwebhookconfigurations', PROTECT_WEBHOOK)),
      readOptional(webhookConfiguration('mutatingwebhookconfigurations', STAMP_WEBHOOK)),
    ]);
  const agentgateNamespace = options.agentgateNamespace ?? AGENTGATE_NAMESPACE;
  const [approvalPolicy, webhookNetwork] = await Promise.all([
    readApprovalPolicy(kube),
    readWebhookNetwork(kc, agentsHook as WebhookConfiguration | undefined),
  ]);
  const webhooks: SnapshotWithoutReviews['webhooks'] = {};
  if (agentsHook) webhooks.agents = agentsHook as WebhookConfiguration;
  if (protectHook) webhooks.protect = protectHook as WebhookConfiguration;
  if (stampHook) webhooks.stamp = stampHook as WebhookConfiguration;
  const routes = await routeInventory(kc, agents, clusterRoles as RoleObject[]);
  return {
    ...(routes ? { routes } : {}),
    agents,
    grants,
    roleBindings: roleBindings as Binding[],
    clusterRoleBindings: clusterRoleBindings as Binding[],
    roles: roles as RoleObject[],
    clusterRoles: clusterRoles as RoleObject[],
    namespaces: namespaces.map((n) => ({ name: n.metadata?.name ?? '', ...(n.metadata?.labels ? { labels: n.metadata.labels } : {}) })),
    serviceAccounts: serviceAccounts.map((s) => ({ namespace: s.metadata?.namespace ?? '', name: s.metadata?.name ?? '' })),
    webhooks,
    agentgateNamespace,
    ...(approvalPolicy ? { approvalPolicy } : {}),
    ...(webhookNetwork ? { webhookNetwork } : {}),
  };
}

/** Optional reads: a verifier without the right to read them reports nothing about them. */
async function bestEffort<T>(fn: () => Promise<T>): Promise<T | undefined | 'forbidden'> {
  try {
    return await retrying(fn);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    if (isForbidden(e)) return 'forbidden';
    throw new SnapshotError(errorMessage(e));
  }
}

async function readApprovalPolicy(kube: KubeApi): Promise<BoundarySnapshot['approvalPolicy']> {
  const [policy, binding] = await Promise.all([
    bestEffort(() => kube.get(apiPath(GV.admission, 'validatingadmissionpolicies', undefined, APPROVAL_POLICY))),
    bestEffort(() => kube.get(apiPath(GV.admission, 'validatingadmissionpolicybindings', undefined, APPROVAL_POLICY))),
  ]);
  if (policy === 'forbidden' || binding === 'forbidden') return undefined;
  return { ...(policy ? { policy: policy as LivePolicy } : {}), ...(binding ? { binding: binding as LiveBinding } : {}) };
}

/** The agents webhook's pods and port (from its Service) and the NetworkPolicies around them; undefined when reached by URL. */
async function readWebhookNetwork(kc: k8s.KubeConfig, cfg: WebhookConfiguration | undefined): Promise<BoundarySnapshot['webhookNetwork']> {
  const ref = cfg?.webhooks?.[0]?.clientConfig?.service;
  if (!ref) return undefined;
  const kube = new KubeApi(kc);
  const svc = await bestEffort(() => kube.get<k8s.V1Service>(apiPath(GV.core, 'services', ref.namespace, ref.name)));
  if (!svc || svc === 'forbidden' || !svc.spec?.selector) return undefined;
  const sp = (svc.spec.ports ?? []).find((p) => p.port === (ref.port ?? 443)) ?? svc.spec.ports?.[0];
  const target = sp?.targetPort ?? sp?.port;
  const nps = await bestEffort(() => kube.get<k8s.V1NetworkPolicyList>(apiPath(GV.networking, 'networkpolicies', ref.namespace)));
  if (!nps || nps === 'forbidden') return undefined;
  return {
    webhookNamespace: ref.namespace,
    podLabels: svc.spec.selector,
    port: typeof target === 'number' ? target : Number(target) || 0,
    ...(typeof target === 'string' && !/^\d+$/.test(target) ? { portName: target } : {}),
    networkPolicies: nps.items as NetworkPolicyLike[],
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
export async function runAccessReviews(
  kc: k8s.KubeConfig,
  plan: readonly PlannedReview[],
  concurrency = 16,
): Promise<{ results: AccessReviewResult[]; errors: string[] }> {
  const kube = new KubeApi(kc);
  const errors: string[] = [];
  const results = await pool(plan, concurrency, async (r): Promise<AccessReviewResult | undefined> => {
    const resourceAttributes: k8s.V1ResourceAttributes = { verb: r.verb, group: r.group, resource: r.resource, namespace: r.namespace };
    if (r.subresource) resourceAttributes.subresource = r.subresource;
    if (r.name) resourceAttributes.name = r.name;
    const spec: k8s.V1SubjectAccessReviewSpec = { groups: r.principal.groups, resourceAttributes };
    if (r.principal.user) spec.user = r.principal.user;
    try {
      const res = await kube.create<k8s.V1SubjectAccessReview>(apiPath(GV.authorization, 'subjectaccessreviews'), {
        apiVersion: GV.authorization,
        kind: 'SubjectAccessReview',
        spec,
      });
      const st = res.status;
      const out: AccessReviewResult = { ...r, allowed: st?.allowed === true };
      if (st?.reason) out.reason = st.reason;
      if (st?.evaluationError) out.evaluationError = st.evaluationError;
      return out;
    } catch (e) {
      if (errors.length < 5)
        errors.push(`SubjectAccessReview ${r.verb} ${r.resource} for ${r.principal.label}: ${statusCode(e) ?? ''} ${errorMessage(e)}`.trim());
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
  const kube = new KubeApi(kc);
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
          await kube.send('GET', `${apiPath(GV.core, 'services', namespace, `https:${name}:${port}`)}/proxy/healthz`);
          return { ...base, target, ok: true };
        } catch (e) {
          return { ...base, target, ok: false, error: errorMessage(e).slice(0, 300) };
        }
      }
      return { ...base, target: '(no url or service)', ok: false, error: 'clientConfig names no endpoint' };
    }),
  );
}

interface CollectResult {
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
