// Builders for planner tests: a valid agent and grant (on the shared testing/fixtures.ts builders), tweaked per test.
import type { V1RoleBinding } from '@kubernetes/client-node';
import { FINALIZER, type AccessGrant, type AgentIdentity, type ApprovalRequest } from '../../api/types.js';
import { accessGrant, agentIdentity, withMeta } from '../../testing/fixtures.js';
import { FakeClock } from '../../lib/clock.js';
import type { GrantAction, GrantState, Plan } from './grant.js';

export const T0 = '2030-01-01T00:00:00Z';
export const clockAt = (t = T0): FakeClock => new FakeClock(t);

/** deploy-bot with a 2h ceiling of edit/view in payments (or a labelled namespace). */
export function agent(over: Partial<AgentIdentity['spec']> = {}, meta: Partial<AgentIdentity['metadata']> = {}): AgentIdentity {
  return agentIdentity(
    'deploy-bot',
    {
      maxDuration: '2h',
      allowedRoles: [
        { kind: 'ClusterRole', name: 'edit' },
        { kind: 'ClusterRole', name: 'view' },
      ],
      allowedNamespaces: { names: ['payments'], selector: { matchLabels: { 'agentgate.io/agents-allowed': 'true' } } },
    },
    (a) => delete a.spec.requiredApprovals,
    over,
    withMeta<AgentIdentity>({ uid: 'agent-uid', generation: 1, ...meta }),
  );
}

export function grant(over: Partial<AccessGrant['spec']> = {}, meta: Partial<AccessGrant['metadata']> = {}, status?: AccessGrant['status']): AccessGrant {
  return accessGrant(
    'hotfix',
    'payments',
    over,
    withMeta<AccessGrant>({ uid: 'grant-uid', generation: 1, resourceVersion: '10', creationTimestamp: T0, ...meta }),
    (g) => {
      if (status) g.status = status;
    },
  );
}

export function state(over: Partial<GrantState> = {}): GrantState {
  return {
    namespace: 'payments',
    name: 'hotfix',
    grant: grant(),
    agent: agent(),
    namespaceLabels: {},
    bindings: [],
    now: new Date(T0),
    approvalTtlMs: 3_600_000,
    ...over,
  };
}

export const types = (p: Plan<GrantAction>): string[] => p.actions.map((a) => a.type);

export function find<T extends GrantAction['type']>(p: Plan<GrantAction>, type: T): Extract<GrantAction, { type: T }> | undefined {
  return p.actions.find((a) => a.type === type) as Extract<GrantAction, { type: T }> | undefined;
}

/** Applies a plan's effects to the state, as the executor and the apiserver would: the next round's input. */
export function apply(s: GrantState, p: Plan<GrantAction>): GrantState {
  let g = s.grant ? structuredClone(s.grant) : undefined;
  let bindings = [...s.bindings];
  let approval = s.approval ? structuredClone(s.approval) : undefined;
  for (const a of p.actions) {
    switch (a.type) {
      case 'addFinalizer':
        if (g) g.metadata.finalizers = [...(g.metadata.finalizers ?? []), FINALIZER];
        break;
      case 'removeFinalizer':
        if (g) g.metadata.finalizers = (g.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
        break;
      case 'createRoleBinding':
        bindings.push({ ...structuredClone(a.binding), metadata: { ...a.binding.metadata, uid: `rb-${bindings.length}`, resourceVersion: '1' } });
        break;
      case 'replaceRoleBinding':
        bindings = bindings.map((b) => (b.metadata?.name === a.binding.metadata?.name ? structuredClone(a.binding) : b));
        break;
      case 'deleteRoleBinding':
        bindings = bindings.filter((b) => b.metadata?.name !== a.name);
        break;
      case 'writeStatus':
        if (g) g.status = structuredClone(a.status);
        break;
      case 'createApprovalRequest':
        approval = { ...structuredClone(a.request), metadata: { ...a.request.metadata, uid: 'ar-uid', resourceVersion: '1' } };
        break;
      case 'deleteApprovalRequest':
        approval = undefined;
        break;
      case 'writeApprovalStatus':
        if (approval) approval.status = structuredClone(a.status);
        break;
      default:
        break;
    }
  }
  if (g?.metadata.deletionTimestamp && (g.metadata.finalizers ?? []).length === 0) g = undefined;
  return { ...s, grant: g, bindings, approval };
}

export function approve(ar: ApprovalRequest, at = T0, validUntil?: string): ApprovalRequest {
  return {
    ...ar,
    status: {
      phase: 'Approved',
      approvals: [{ user: 'alice', groups: ['sre-approvers'], decision: 'Approved', time: at }],
      decidedAt: at,
      ...(validUntil ? { validUntil } : {}),
    },
  };
}

export type { V1RoleBinding };
