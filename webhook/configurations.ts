// The three webhook configurations, generated from the AgentIdentities and kept in sync
// by the webhook process itself. The installer creates them (config/webhook, the chart);
// this process only updates them by name: it may not create webhook configurations.
//
// agentgate-agents: only agents' calls reach it (matchConditions on userInfo built from
//   every AgentIdentity's subjects), every resource and subresource, CREATE/UPDATE/DELETE/
//   CONNECT, failurePolicy Fail; agentgate's own ServiceAccounts excluded.
// agentgate-protect: agentgate.io kinds for every caller, and RoleBindings only when they
//   carry managed-by=agentgate (objectSelector matches the old or the new object), so the
//   rest of the cluster is never routed through agentgate.
// agentgate-stamp: CREATE of AccessGrants, to stamp the requester; UPDATE of ApprovalRequests,
//   to stamp an approver's decision with their authenticated identity.
import type * as k8s from '@kubernetes/client-node';
import type { AgentIdentity } from '../api/types.js';
import { AGENTS_WEBHOOK, GROUP, LABEL_MANAGED_BY, MANAGED_BY, PROTECT_WEBHOOK, STAMP_WEBHOOK } from '../api/types.js';
import { stableStringify } from '../lib/fingerprint.js';
import { apiPath, GV, isConflict, isNotFound, type KubeApi } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import { subjectNames } from '../lib/rbac.js';
import { SELF_REVIEWS } from './decide.js';
import { mergeCaBundle } from './tls.js';

export const PATHS = { agents: '/validate/agents', protect: '/validate/protect', stamp: '/mutate/stamp' } as const;

export type ClientTarget = { url: string } | { service: { name: string; namespace: string; port?: number } };

interface ConfigurationOptions {
  target: ClientTarget;
  /**
   * Kubernetes controllers whose DELETEs of agentgate objects skip the protect webhook:
   * the namespace controller and the garbage collector only remove things, and routing
   * them through agentgate would leave namespaces stuck Terminating whenever it is down.
   */
  cleanupUsers?: readonly string[];
  /** The webhook's own username, whose AuditEvent creates need no check. */
  webhookUser?: string;
  /** base64 PEM; undefined keeps whatever caBundle the live object has (e.g. cert-manager's cainjector). */
  caBundle?: string;
  agentgateUsers: readonly string[];
  timeoutSeconds: number;
}

const cel = (s: string): string => JSON.stringify(s);
const celList = (xs: readonly string[]): string => `[${xs.map(cel).join(', ')}]`;

/** The CEL condition that is true exactly for calls made as one of the agents' subjects. */
export function agentMatchExpression(agents: readonly AgentIdentity[]): string {
  const { users, groups } = subjectNames(agents.flatMap((a) => a.spec.subjects ?? []));
  const parts: string[] = [];
  if (users.length) parts.push(`request.userInfo.username in ${celList(users)}`);
  if (groups.length) parts.push(`(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(groups)}))`);
  return parts.length ? parts.join(' || ') : 'false';
}

function clientConfig(opts: ConfigurationOptions, path: string): k8s.AdmissionregistrationV1WebhookClientConfig {
  const cc: k8s.AdmissionregistrationV1WebhookClientConfig =
    'url' in opts.target
      ? { url: opts.target.url.replace(/\/+$/, '') + path }
      : { service: { ...opts.target.service, port: opts.target.service.port ?? 443, path } };
  if (opts.caBundle) cc.caBundle = opts.caBundle;
  return cc;
}

function cleanupCondition(opts: ConfigurationOptions): { matchConditions?: k8s.V1MatchCondition[] } {
  if (!opts.cleanupUsers?.length) return {};
  return {
    matchConditions: [
      {
        name: 'not-controller-cleanup',
        expression: `!(request.operation == 'DELETE' && request.userInfo.username in ${celList([...opts.cleanupUsers].sort())})`,
      },
    ],
  };
}

const labels = { [LABEL_MANAGED_BY]: MANAGED_BY, 'app.kubernetes.io/name': 'agentgate', 'app.kubernetes.io/component': 'webhook' };

export function desiredConfigurations(
  agents: readonly AgentIdentity[],
  opts: ConfigurationOptions,
): {
  agents: k8s.V1ValidatingWebhookConfiguration;
  protect: k8s.V1ValidatingWebhookConfiguration;
  stamp: k8s.V1MutatingWebhookConfiguration;
} {
  // What every agentgate webhook shares; failing closed is not a per-webhook choice.
  const hook = (name: string, path: string, sideEffects: 'None' | 'NoneOnDryRun') => ({
    name,
    admissionReviewVersions: ['v1'],
    clientConfig: clientConfig(opts, path),
    failurePolicy: 'Fail' as const,
    matchPolicy: 'Equivalent' as const,
    sideEffects,
    timeoutSeconds: opts.timeoutSeconds,
  });
  const allOps = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
  const agentsConfig: k8s.V1ValidatingWebhookConfiguration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: AGENTS_WEBHOOK, labels },
    webhooks: [
      {
        ...hook('agents.agentgate.io', PATHS.agents, 'NoneOnDryRun'),
        rules: [{ apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], operations: allOps, scope: '*' }],
        matchConditions: [
          { name: 'not-agentgate', expression: `!(request.userInfo.username in ${celList([...opts.agentgateUsers].sort())})` },
          { name: 'agent-subjects', expression: agentMatchExpression(agents) },
          {
            // kubectl auth can-i / whoami: they store and change nothing (see SELF_REVIEWS).
            name: 'not-self-review',
            expression: `!(request.operation == 'CREATE' && ${SELF_REVIEWS.map((r) => `(request.resource.group == ${cel(r.group)} && request.resource.resource == ${cel(r.resource)})`).join(' || ')})`,
          },
        ],
      },
    ],
  };
  const writeOps = ['CREATE', 'UPDATE', 'DELETE'];
  const protect: k8s.V1ValidatingWebhookConfiguration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: PROTECT_WEBHOOK, labels },
    webhooks: [
      {
        ...hook('objects.protect.agentgate.io', PATHS.protect, 'NoneOnDryRun'),
        rules: [{ apiGroups: [GROUP], apiVersions: ['*'], resources: ['*/*'], operations: writeOps, scope: '*' }],
        matchConditions: [
          ...(cleanupCondition(opts).matchConditions ?? []),
          // The webhook's own AuditEvent writes (one per agent call) would only be allowed:
          // skipping the round trip back to agentgate halves the cost of recording.
          ...(opts.webhookUser
            ? [
                {
                  name: 'not-own-audit-write',
                  expression: `!(request.operation == 'CREATE' && request.resource.resource == 'auditevents' && request.userInfo.username == ${cel(opts.webhookUser)})`,
                },
              ]
            : []),
        ],
      },
      {
        ...hook('rolebindings.protect.agentgate.io', PATHS.protect, 'None'),
        objectSelector: { matchLabels: { [LABEL_MANAGED_BY]: MANAGED_BY } },
        rules: [{ apiGroups: ['rbac.authorization.k8s.io'], apiVersions: ['*'], resources: ['rolebindings'], operations: writeOps, scope: 'Namespaced' }],
        ...cleanupCondition(opts),
      },
    ],
  };
  const stamp: k8s.V1MutatingWebhookConfiguration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: STAMP_WEBHOOK, labels },
    webhooks: [
      {
        ...hook('stamp.agentgate.io', PATHS.stamp, 'None'),
        reinvocationPolicy: 'Never',
        rules: [
          { apiGroups: [GROUP], apiVersions: ['*'], resources: ['accessgrants'], operations: ['CREATE'], scope: 'Namespaced' },
          // The approver's own entry in decisions (webhook/stamp.ts); the main resource only, never status.
          { apiGroups: [GROUP], apiVersions: ['*'], resources: ['approvalrequests'], operations: ['UPDATE'], scope: 'Namespaced' },
        ],
      },
    ],
  };
  return { agents: agentsConfig, protect, stamp };
}

type Kind = 'Validating' | 'Mutating';
type AnyConfig = k8s.V1ValidatingWebhookConfiguration | k8s.V1MutatingWebhookConfiguration;

/** What we compare: webhooks (with the live caBundle kept when we manage none) and labels. */
function comparable(c: AnyConfig): string {
  return stableStringify(JSON.parse(JSON.stringify({ labels: c.metadata?.labels ?? {}, webhooks: c.webhooks ?? [] })));
}

/**
 * Our CA bundle merged with the live one (ours first, each CA once, expired ones out), so
 * that a replica that has not yet picked up a renewal never takes the new CA out again.
 */
function mergedCaBundle(desired: string | undefined, live: string | undefined): string | undefined {
  if (!desired || !live || desired === live) return desired;
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const pem = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return b64(mergeCaBundle([pem(desired), pem(live)]));
}

/** Keeps the apiserver-defaulted fields out of the comparison by re-applying ours over the live object. */
function merged(live: AnyConfig, desired: AnyConfig, keepCa: boolean): AnyConfig {
  const webhooks = (desired.webhooks ?? []).map((w) => {
    const liveHook = (live.webhooks ?? []).find((l) => l.name === w.name);
    const base = { ...(liveHook ?? {}), ...w } as typeof w;
    if (keepCa && liveHook?.clientConfig?.caBundle) base.clientConfig = { ...w.clientConfig, caBundle: liveHook.clientConfig.caBundle };
    else if (!keepCa) base.clientConfig = { ...w.clientConfig, caBundle: mergedCaBundle(w.clientConfig.caBundle, liveHook?.clientConfig?.caBundle) };
    // namespaceSelector/objectSelector default to {} on the server; an absent desired value means "everything".
    if (!w.namespaceSelector) base.namespaceSelector = liveHook?.namespaceSelector ?? {};
    if (!w.objectSelector) base.objectSelector = liveHook?.objectSelector ?? {};
    return base;
  });
  return { ...live, metadata: { ...live.metadata, labels: { ...(live.metadata?.labels ?? {}), ...(desired.metadata?.labels ?? {}) } }, webhooks } as AnyConfig;
}

/** The installer creates the configurations; the webhook only keeps them up to date. */
class ConfigurationMissing extends Error {
  constructor(kind: Kind, name: string) {
    super(
      `${kind}WebhookConfiguration ${name} does not exist: the installer creates it (helm upgrade, or kubectl apply -f config/webhook/); agentgate's webhook only updates it`,
    );
  }
}

const RESOURCE: Record<Kind, string> = { Validating: 'validatingwebhookconfigurations', Mutating: 'mutatingwebhookconfigurations' };

/** The REST path of a configuration kind's collection, or of one configuration. */
export function configurationPath(kind: Kind, name?: string): string {
  return apiPath(GV.admission, RESOURCE[kind], undefined, name);
}

export class ConfigurationSync {
  private running: Promise<void> | undefined;
  private again = false;
  constructor(
    private readonly kube: KubeApi,
    private readonly log: Logger,
  ) {}

  /** What this process last applied, per configuration: a change of the live object back to it is drift. */
  private readonly applied = new Map<string, string>();
  /** Configurations restored since the last drained() call (someone else changed or deleted them). */
  private restored: string[] = [];

  /** Applies the desired configurations; concurrent calls coalesce into one more run. */
  sync(build: () => ReturnType<typeof desiredConfigurations>, keepCa: boolean): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const d = build();
          await this.track('Validating', d.agents, keepCa);
          await this.track('Validating', d.protect, keepCa);
          await this.track('Mutating', d.stamp, keepCa);
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** The configurations whose drift was repaired since the last call. */
  drained(): string[] {
    const out = this.restored;
    this.restored = [];
    return out;
  }

  private async track(kind: Kind, desired: AnyConfig, keepCa: boolean): Promise<void> {
    const name = desired.metadata!.name!;
    const want = stableStringify(desired.webhooks ?? []);
    const changed = await this.apply(kind, desired, keepCa);
    if (changed && this.applied.get(name) === want && !this.restored.includes(name)) this.restored.push(name);
    this.applied.set(name, want);
  }

  /** True when the live object had to be created or changed. */
  private async apply(kind: Kind, desired: AnyConfig, keepCa: boolean): Promise<boolean> {
    const name = desired.metadata!.name!;
    const path = configurationPath(kind, name);
    for (let attempt = 0; attempt < 5; attempt++) {
      let live: AnyConfig | undefined;
      try {
        live = await this.kube.get<AnyConfig>(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!live) throw new ConfigurationMissing(kind, name);
      try {
        const next = merged(live, desired, keepCa);
        if (comparable(next) === comparable(live)) return false;
        await this.kube.replace(path, next);
        this.log.info('webhook configuration updated', { configuration: name });
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new Error(`could not apply webhook configuration ${name}: kept conflicting`);
  }
}
