// The agents' webhook configuration: does the webhook that gates agents see every
// mutating call of every subject of the agent (rules, operations, matchConditions,
// selectors, failure policy, CA bundle, reachability), and is agentgate's own
// protection in place.

import { X509Certificate } from 'node:crypto';
import type { AgentIdentity, Subject } from '../api/types.js';
import { AGENTS_WEBHOOK, PROTECT_WEBHOOK } from '../api/types.js';
import { compileCached, prepareVars } from '../cel/cel.js';
import type { AdmissionRequest, UserInfo } from '../lib/admission.js';
import { serviceAccountUsername } from '../lib/rbac.js';
import { describeSelector, selectorMatches } from '../lib/selector.js';
import { approvalPolicyProblems, APPROVAL_POLICY, APPROVAL_POLICY_FIX } from '../lib/approval-policy.js';
import { webhookExposure } from '../lib/webhook-exposure.js';
import { allowedNamespaces, AUTHENTICATED, bindingMatch, SA_GROUP, selectorIsEmpty, subjectLabel } from './principals.js';
import { Route } from './types.js';
import type { BoundarySnapshot, Finding, SnapshotWithoutReviews, WebhookEntry, WebhookRule } from './types.js';

const REQUIRED_OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;

function ruleCoversEverything(r: WebhookRule): boolean {
  const all = (xs: string[] | undefined) => (xs ?? []).includes('*');
  // '*/*' is every resource and subresource; '*' alone misses subresources (exec, scale...).
  const resources = (r.resources ?? []).includes('*/*');
  return all(r.apiGroups) && all(r.apiVersions) && resources && (r.scope === undefined || r.scope === '*');
}

function operationsOf(r: WebhookRule): Set<string> {
  const ops = r.operations ?? [];
  return new Set(ops.includes('*') ? REQUIRED_OPERATIONS : ops);
}

/** Requests used to evaluate matchConditions: one per operation the webhook must see. */
function sampleRequests(user: UserInfo): Array<AdmissionRequest> {
  const base = { uid: 'boundary-verification', userInfo: user, namespace: 'default' };
  return [
    {
      ...base,
      operation: 'CREATE',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      name: 'probe',
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'probe' } },
    },
    {
      ...base,
      operation: 'UPDATE',
      kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      subResource: 'scale',
      name: 'probe',
      object: { spec: { replicas: 0 } },
      oldObject: { spec: { replicas: 1 } },
    },
    {
      ...base,
      operation: 'DELETE',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      name: 'probe',
      oldObject: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe' } },
    },
    {
      ...base,
      operation: 'CONNECT',
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'probe',
      object: { kind: 'PodExecOptions', command: ['sh'] },
    },
    {
      ...base,
      operation: 'CREATE',
      namespace: '',
      kind: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRoleBinding' },
      resource: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings' },
      name: 'probe',
      object: { kind: 'ClusterRoleBinding', metadata: { name: 'probe' } },
    },
  ] as AdmissionRequest[];
}

/** How a subject authenticates, in isolation (no groups it may or may not also have). */
function subjectUserInfo(s: Subject): UserInfo {
  if (s.kind === 'User') return { username: s.name, groups: [AUTHENTICATED] };
  if (s.kind === 'Group') return { username: 'agentgate:unknown-member', groups: [s.name, AUTHENTICATED] };
  const ns = s.namespace ?? '';
  return { username: serviceAccountUsername(ns, s.name), groups: [SA_GROUP, `${SA_GROUP}:${ns}`, AUTHENTICATED] };
}

type MatchOutcome = { matched: true } | { matched: false; condition: string; request: string } | { unverified: string };

/**
 * Evaluates the entry's matchConditions for a subject, the way the apiserver does: the
 * webhook is called only if every condition is true. An evaluation error makes the
 * apiserver apply failurePolicy (Fail: the call is rejected), so it counts as matched.
 * A condition our CEL environment cannot compile (e.g. one using `authorizer`) falls back
 * to a structural check: the subject's name must appear in the expression.
 */
function evaluateMatchConditions(entry: WebhookEntry, s: Subject): MatchOutcome {
  const conds = entry.matchConditions ?? [];
  if (conds.length === 0) return { matched: true };
  const user = subjectUserInfo(s);
  for (const cond of conds) {
    const compiled = compileCached(cond.expression);
    if (!compiled.ok) {
      const needle = s.kind === 'ServiceAccount' ? (user.username ?? s.name) : s.name;
      if (
        cond.expression.includes(needle) ||
        (s.kind === 'ServiceAccount' && cond.expression.includes(s.name) && cond.expression.includes(s.namespace ?? ''))
      ) {
        return {
          unverified: `matchCondition "${cond.name}" could not be evaluated (${compiled.error.message}); it mentions ${subjectLabel(s)}, so it is assumed to match`,
        };
      }
      return { matched: false, condition: cond.name, request: `(not evaluable: ${compiled.error.message})` };
    }
    for (const req of sampleRequests(user)) {
      let result: unknown;
      try {
        result = compiled.value.run(prepareVars({ request: req }));
      } catch {
        continue;
      }
      if (result === false) {
        const what = `${req.operation} ${req.resource.resource}${req.subResource ? `/${req.subResource}` : ''}`;
        return { matched: false, condition: cond.name, request: what };
      }
    }
  }
  return { matched: true };
}

function caBundleProblem(entry: WebhookEntry, now: Date): string | undefined {
  const b64 = entry.clientConfig?.caBundle;
  if (!b64) return "has no caBundle, so the apiserver cannot verify the webhook's certificate (it falls back to system roots)";
  let pem: string;
  try {
    pem = Buffer.from(b64, 'base64').toString('utf8');
  } catch {
    return 'has a caBundle that is not base64';
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'has a caBundle without a PEM certificate';
  let valid = 0;
  let lastProblem = '';
  for (const block of blocks) {
    try {
      const cert = new X509Certificate(block);
      if (Date.parse(cert.validTo) < now.getTime())
        lastProblem = `has a caBundle whose certificate ${cert.subject.replace(/\n/g, ',')} expired at ${cert.validTo}`;
      else if (Date.parse(cert.validFrom) > now.getTime()) lastProblem = `has a caBundle whose certificate is not valid before ${cert.validFrom}`;
      else valid++;
    } catch (e) {
      lastProblem = `has a caBundle certificate that does not parse (${(e as Error).message})`;
    }
  }
  return valid > 0 ? undefined : lastProblem;
}

/** Namespaces the agent can act in: allowed by its spec or bound by any RoleBinding. */
function touchableNamespaces(agent: AgentIdentity, snapshot: SnapshotWithoutReviews): Set<string> {
  const out = allowedNamespaces(agent, snapshot);
  for (const b of snapshot.roleBindings) {
    const m = bindingMatch(agent, b);
    if (m.explicit.length && b.metadata?.namespace) out.add(b.metadata.namespace);
  }
  return out;
}

function entryFindings(agent: AgentIdentity, cfgName: string, entry: WebhookEntry, snapshot: BoundarySnapshot, now: Date): Finding[] {
  const out: Finding[] = [];
  const object = `ValidatingWebhookConfiguration/${cfgName}`;
  const where = `${object} (webhook ${entry.name})`;
  const failOpen = entry.failurePolicy === 'Ignore';
  if (failOpen) {
    out.push({
      severity: 'Critical',
      route: Route.WebhookFailOpen,
      object,
      message: `${where} has failurePolicy Ignore: when the webhook is down or slow, agents' calls go through unchecked and unrecorded`,
      fix: `kubectl patch validatingwebhookconfiguration ${cfgName} --type json -p '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Fail"}]' (agents fail closed; humans are not affected)`,
    });
  }
  const rules = entry.rules ?? [];
  for (const op of REQUIRED_OPERATIONS) {
    const covered = rules.some((r) => operationsOf(r).has(op) && ruleCoversEverything(r));
    if (covered) continue;
    const partly = rules.some((r) => operationsOf(r).has(op));
    if (partly) {
      out.push({
        severity: 'Critical',
        route: Route.WebhookMissingResources,
        object,
        message: `${where} sends ${op} to agentgate only for some resources: agents' calls on the others skip it`,
        fix: `Set the rule to apiGroups ["*"], apiVersions ["*"], resources ["*/*"] (every resource and subresource; the apiserver allows nothing beside it), scope "*"`,
      });
    } else if (op === 'CONNECT') {
      out.push({
        severity: 'Critical',
        route: Route.WebhookMissingConnect,
        object,
        message: `${where} does not cover CONNECT: agents' exec, attach and port-forward skip approval and the record`,
        fix: 'Add CONNECT to the rule\'s operations (or use "*")',
      });
    } else {
      out.push({
        severity: 'Critical',
        route: Route.WebhookMissingOperation,
        object,
        message: `${where} does not cover ${op}: agents' ${op} calls skip agentgate`,
        fix: `Add ${op} to the rule's operations (or use "*")`,
      });
    }
  }
  if (!selectorIsEmpty(entry.namespaceSelector)) {
    const sel = entry.namespaceSelector!;
    const touchable = touchableNamespaces(agent, snapshot);
    const exempt = snapshot.namespaces.filter((n) => !selectorMatches(sel, n.labels)).map((n) => n.name);
    const hit = exempt.filter((n) => touchable.has(n));
    out.push({
      severity: hit.length ? 'Critical' : 'Warning',
      route: Route.WebhookExemptsNamespaces,
      object,
      message: hit.length
        ? `${where} has namespaceSelector ${describeSelector(sel)}, which exempts namespace(s) ${hit.join(', ')} where agent ${agent.metadata.name} can act`
        : `${where} has namespaceSelector ${describeSelector(sel)}; no namespace the agent can act in is exempt today, but any namespace labelled otherwise (and cluster-scoped namespaces themselves) would be`,
      fix: `Remove the namespaceSelector: matchConditions already limit the webhook to agents`,
    });
  }
  if (!selectorIsEmpty(entry.objectSelector)) {
    out.push({
      severity: 'Critical',
      route: Route.WebhookExemptsObjects,
      object,
      message: `${where} has objectSelector ${describeSelector(entry.objectSelector!)}: the agent writes the labels of its own objects, so it chooses whether agentgate sees them`,
      fix: 'Remove the objectSelector',
    });
  }
  for (const s of agent.spec.subjects ?? []) {
    const outcome = evaluateMatchConditions(entry, s);
    if ('unverified' in outcome) {
      out.push({
        severity: 'Warning',
        route: Route.WebhookMatchConditionUnverified,
        object,
        message: `${where}: ${outcome.unverified}`,
        fix: 'Use only request.userInfo in the matchConditions (as agentgate generates them)',
      });
    } else if (!outcome.matched) {
      out.push({
        severity: 'Critical',
        route: Route.WebhookSubjectNotMatched,
        object,
        message: `${where}: matchCondition "${outcome.condition}" is false for ${subjectLabel(s)} of agent ${agent.metadata.name} on ${outcome.request}, so those calls skip agentgate`,
        fix: 'Let the operator regenerate the matchConditions from the AgentIdentities (do not edit them by hand)',
      });
    }
  }
  const ca = caBundleProblem(entry, now);
  if (ca) {
    out.push({
      severity: failOpen ? 'Critical' : 'Warning',
      route: Route.WebhookBadCABundle,
      object,
      message: `${where} ${ca}; ${failOpen ? "with failurePolicy Ignore, agents' calls go through unchecked" : "agents' calls fail closed until it is fixed"}`,
      fix: "Restore clientConfig.caBundle from the webhook's serving CA (base64 PEM)",
    });
  }
  for (const probe of (snapshot.webhookProbes ?? []).filter((p) => p.configuration === cfgName && p.webhook === entry.name && !p.ok)) {
    out.push({
      severity: failOpen ? 'Critical' : 'Warning',
      route: Route.WebhookUnreachable,
      object,
      message: `${where}: ${probe.target} does not answer (${probe.error ?? 'no answer'}); ${failOpen ? "with failurePolicy Ignore, agents' calls go through unchecked" : "agents' calls fail closed until it answers"}`,
      fix: 'Check the webhook pods and service: kubectl -n agentgate-system get pods,svc,endpoints',
    });
  }
  return out;
}

export function webhookFindings(agent: AgentIdentity, snapshot: BoundarySnapshot, now: Date): Finding[] {
  const cfg = snapshot.webhooks.agents;
  const object = `ValidatingWebhookConfiguration/${AGENTS_WEBHOOK}`;
  const out: Finding[] = [];
  if (!cfg || !(cfg.webhooks ?? []).length) {
    out.push({
      severity: 'Critical',
      route: Route.WebhookMissing,
      object,
      message: `${object} ${cfg ? 'has no webhooks' : 'does not exist'}: agents' calls reach the cluster without identity, coverage, approval or record checks`,
      fix: 'Reinstall agentgate (the operator recreates it), e.g. helm upgrade --install agentgate charts/agentgate',
    });
  } else {
    // The agent is gated if any one entry gates it fully; otherwise show every entry's gaps.
    const perEntry = (cfg.webhooks ?? []).map((e) => entryFindings(agent, cfg.metadata?.name ?? AGENTS_WEBHOOK, e, snapshot, now));
    const clean = perEntry.find((f) => !f.some((x) => x.severity === 'Critical'));
    out.push(...(clean ?? perEntry.flat()));
  }

  if (snapshot.approvalPolicy) {
    const problems = approvalPolicyProblems(snapshot.approvalPolicy.policy, snapshot.approvalPolicy.binding);
    if (problems.length) {
      out.push({
        severity: 'Warning',
        route: Route.ApprovalPolicyMissing,
        object: `ValidatingAdmissionPolicy/${APPROVAL_POLICY}`,
        message: `${problems.join('; ')}: approver stamps could be forged, so agentgate records no approval (held operations stay held)`,
        fix: APPROVAL_POLICY_FIX,
      });
    }
  }
  if (snapshot.webhookNetwork) {
    const names = touchableNamespaces(agent, snapshot);
    const agentNamespaces = snapshot.namespaces.filter((n) => names.has(n.name));
    const exposure = webhookExposure({ ...snapshot.webhookNetwork, agentNamespaces });
    if (exposure.exposed && agentNamespaces.length) {
      out.push({
        severity: 'Warning',
        route: Route.WebhookPortExposed,
        object: `Namespace/${snapshot.webhookNetwork.webhookNamespace}`,
        message: `pods the agent can create (in ${agentNamespaces.map((n) => n.name).join(', ')}) can reach the webhook's port ${snapshot.webhookNetwork.port}: ${exposure.why}. Forged AdmissionReviews grant nothing, but can spend approvals and add unconfirmed records`,
        fix: "Set networkPolicy.webhookFromCIDRs to the control plane's addresses (helm upgrade agentgate --set networkPolicy.webhookFromCIDRs={...}), or webhook.clientAuth where the apiserver presents a client certificate",
      });
    }
  }

  const protect = snapshot.webhooks.protect;
  const pObject = `ValidatingWebhookConfiguration/${PROTECT_WEBHOOK}`;
  if (!protect || !(protect.webhooks ?? []).length) {
    out.push({
      severity: 'Warning',
      route: Route.ProtectWebhookMissing,
      object: pObject,
      message: `${pObject} is missing: approvals, AuditEvents and agentgate's RoleBindings are guarded by RBAC alone, so anyone RBAC lets annotate an ApprovalRequest can approve it`,
      fix: 'Reinstall agentgate, e.g. helm upgrade --install agentgate charts/agentgate',
    });
  } else if ((protect.webhooks ?? []).some((w) => w.failurePolicy === 'Ignore')) {
    out.push({
      severity: 'Warning',
      route: Route.ProtectWebhookFailOpen,
      object: pObject,
      message: `${pObject} has failurePolicy Ignore: while the webhook is down, approvals and agentgate's objects are unguarded`,
      fix: `Set failurePolicy: Fail on every webhook of ${PROTECT_WEBHOOK}`,
    });
  }
  return out;
}
