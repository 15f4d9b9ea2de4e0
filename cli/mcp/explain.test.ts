import { expect } from 'chai';
import { CAUSE, REASON } from '../../api/reasons.js';
import { CONTROL, parseRefusal } from './explain.js';

const HELD_TEXT =
  'Error from server (AgentgateApprovalRequired): admission webhook "agents.agentgate.io" denied the request: agentgate: held for approval: Deleting objects requires human approval. ' +
  'ApprovalRequest deploy-bot-3f9a1c in namespace payments waits until 2030-01-01T01:00:00Z; approve with: kubectl annotate approvalrequest deploy-bot-3f9a1c -n payments approved=true';

describe('cli/mcp/explain: reading a refusal', () => {
  it('reads a Status: reason, the ApprovalRequest in details, its namespace, rules and retry hint', () => {
    const p = parseRefusal({
      status: {
        code: 403,
        reason: REASON.ApprovalRequired,
        message: 'admission webhook "agents.agentgate.io" denied the request: agentgate: held for approval: ...',
        details: {
          group: 'agentgate.io',
          kind: 'ApprovalRequest',
          name: 'deploy-bot-3f9a1c',
          retryAfterSeconds: 10,
          causes: [
            { reason: CAUSE.Namespace, field: 'metadata.namespace', message: 'payments' },
            { reason: CAUSE.Agent, message: 'deploy-bot' },
            { reason: CAUSE.Rule, message: 'delete' },
          ],
        },
      },
    });
    expect(p).to.deep.include({
      refusal: 'RuleHeld',
      refusedBy: 'agentgate',
      reason: REASON.ApprovalRequired,
      namespace: 'payments',
      agent: 'deploy-bot',
      rules: ['delete'],
      retryAfterSeconds: 10,
    });
    expect(p.approvalRequest).to.deep.equal({ name: 'deploy-bot-3f9a1c', namespace: 'payments' });
    expect(CONTROL[p.refusal]).to.equal('approval');
  });

  it('reads what kubectl printed: the reason in parentheses, the request and namespace from the message', () => {
    const p = parseRefusal({ message: HELD_TEXT });
    expect(p).to.deep.include({ refusal: 'RuleHeld', refusedBy: 'agentgate', reason: REASON.ApprovalRequired, namespace: 'payments' });
    expect(p.approvalRequest).to.deep.equal({ name: 'deploy-bot-3f9a1c', namespace: 'payments' });
  });

  it('classifies agentgate messages without a reason (older webhooks, clients that keep only the text)', () => {
    const msg = (m: string) => parseRefusal({ message: `admission webhook "agents.agentgate.io" denied the request: agentgate: ${m}` }).refusal;
    expect(msg('held for approval: x ApprovalRequest a-b in namespace p is pending (no approvals yet)')).to.equal('RuleHeld');
    expect(msg('ApprovalRequest a-b for this exact call was denied by bob; the same call is refused until 2030-01-01T00:00:00Z')).to.equal('ApprovalDenied');
    expect(msg('no active grant of agent d in namespace p covers create configmaps x: grant g expired at 2030-01-01T00:00:00Z')).to.equal('Expired');
    expect(msg('no active grant of agent d in namespace p covers create configmaps x: grant g is AwaitingApproval')).to.equal('NotCovered');
    expect(msg('agent d has no AccessGrant in namespace p; whatever RBAC binding ...')).to.equal('NotCovered');
    expect(msg('agent d is suspended (AgentIdentity spec.suspended: true); all of its calls are denied')).to.equal('Suspended');
    expect(msg('agent d may not create namespaces x: agents may not change cluster-scoped objects')).to.equal('OutOfScope');
    expect(msg("agent d's request for access is refused: spec.activation must be RequiresApproval")).to.equal('RequestRefused');
    expect(msg('denied because the audit record could not be written (boom); no agent call goes through unrecorded')).to.equal('Unavailable');
    expect(msg('no secrets here, ever')).to.equal('RuleDenied');
  });

  it('an RBAC refusal: agentgate never saw the call; what was attempted is read from the message', () => {
    const p = parseRefusal({
      message:
        'Error from server (Forbidden): configmaps is forbidden: User "agent:deploy-bot" cannot create resource "configmaps" in API group "" in the namespace "payments"',
    });
    expect(p).to.deep.include({ refusal: 'NotCovered', refusedBy: 'rbac', namespace: 'payments' });
    expect(p.attempted).to.deep.equal({ user: 'agent:deploy-bot', verb: 'create', resource: 'configmaps', group: '', namespace: 'payments' });
  });

  it('the webhook unreachable (fail closed) is Unavailable; anything else is Unknown', () => {
    expect(parseRefusal({ message: 'Internal error occurred: failed calling webhook "agents.agentgate.io": connection refused' }).refusal).to.equal(
      'Unavailable',
    );
    expect(parseRefusal({ message: 'the server could not find the requested resource' })).to.deep.include({ refusal: 'Unknown', refusedBy: 'unknown' });
  });

  it('an expired grant is named from the Status details', () => {
    const p = parseRefusal({
      status: {
        reason: REASON.GrantExpired,
        message: 'x',
        details: { kind: 'AccessGrant', name: 'g1', causes: [{ reason: CAUSE.Namespace, message: 'payments' }] },
      },
    });
    expect(p).to.deep.include({ refusal: 'Expired', grant: { name: 'g1', namespace: 'payments' } });
    expect(p.approvalRequest).to.equal(undefined);
  });
});
