import { expect } from 'chai';
import type { ApprovalRequest } from '../api/types.js';
import { newLogger } from '../lib/log.js';
import { buildMessage, notifyEventFor, Notifier } from './notify.js';

function ar(phase?: string, extra: Partial<ApprovalRequest['status']> = {}): ApprovalRequest {
  return {
    apiVersion: 'agentgate.io/v1alpha1',
    kind: 'ApprovalRequest',
    metadata: { name: 'ar-deploy-bot-0123', namespace: 'payments' },
    spec: {
      agent: 'deploy-bot',
      type: 'Operation',
      fingerprint: 'f'.repeat(64),
      summary: 'DELETE apps/v1 deployments payments/web by agent:deploy-bot',
      preview: 'spec.replicas: 3 -> 0 <script>',
      requestedBy: 'agent:deploy-bot',
      expiresAt: '2030-01-01T01:00:00Z',
      operation: { operation: 'DELETE', group: 'apps', version: 'v1', resource: 'deployments', namespace: 'payments', name: 'web', user: 'agent:deploy-bot' },
    },
    ...(phase ? { status: { phase: phase as NonNullable<ApprovalRequest['status']>['phase'], ...extra } } : {}),
  };
}

const quiet = newLogger('test', 'error');

describe('notifications', function () {
  it('message a new request and each decision once, nothing else', function () {
    expect(notifyEventFor(undefined, ar())).to.equal('created');
    expect(notifyEventFor(undefined, ar('Approved'))).to.equal(undefined); // seen late (relist): not news
    expect(notifyEventFor(ar(), ar('Pending'))).to.equal(undefined);
    expect(notifyEventFor(ar('Pending'), ar('Approved'))).to.equal('approved');
    expect(notifyEventFor(ar('Pending'), ar('Denied'))).to.equal('denied');
    expect(notifyEventFor(ar('Approved'), ar('Consumed'))).to.equal('consumed');
    expect(notifyEventFor(ar('Pending'), ar('Expired'))).to.equal('expired');
    expect(notifyEventFor(ar('Approved'), ar('Approved'))).to.equal(undefined);
  });

  it('carry the summary, the escaped preview and the exact approve command', function () {
    const m = buildMessage(ar(), 'created');
    const all = JSON.stringify(m);
    expect(m.text).to.contain('deploy-bot').and.contain('DELETE apps/v1 deployments payments/web');
    expect(all).to.contain('kubectl annotate approvalrequest ar-deploy-bot-0123 -n payments approved=true --overwrite');
    expect(all).to.contain('approved=false');
    expect(all).to.contain('&lt;script&gt;').and.not.contain('<script>');
  });

  it('name the approvers on a decision', function () {
    const m = buildMessage(ar('Approved', { approvals: [{ user: 'alice', decision: 'Approved', time: '2030-01-01T00:10:00Z' }] }), 'approved');
    expect(m.text).to.contain('alice (Approved)');
  });

  it('retry server errors and rate limits, give up on other client errors, never throw', async function () {
    const calls: number[] = [];
    const statuses = [503, 429, 200];
    const fetchImpl = (async () => {
      calls.push(1);
      return new Response('', { status: statuses.shift() ?? 200 });
    }) as unknown as typeof fetch;
    const n = new Notifier({ url: 'http://127.0.0.1:1/hook', log: quiet, baseDelayMs: 1, fetchImpl });
    n.enqueue(buildMessage(ar(), 'created'));
    await n.idle();
    expect(calls).to.have.length(3);
    expect(n.sent).to.have.length(1);

    const refused = new Notifier({
      url: 'http://127.0.0.1:1/hook',
      log: quiet,
      baseDelayMs: 1,
      fetchImpl: (async () => new Response('', { status: 404 })) as unknown as typeof fetch,
    });
    refused.enqueue(buildMessage(ar(), 'created'));
    await refused.idle();
    expect(refused.failures).to.equal(1);

    const down = new Notifier({
      url: 'http://127.0.0.1:1/hook',
      log: quiet,
      baseDelayMs: 1,
      attempts: 3,
      fetchImpl: (async () => {
        throw new Error('ECONNREFUSED');
      }) as unknown as typeof fetch,
    });
    down.enqueue(buildMessage(ar(), 'created'));
    await down.idle();
    expect(down.failures).to.equal(1);
    expect(down.sent).to.have.length(0);
  });
});
