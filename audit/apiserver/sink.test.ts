// The apiserver audit batch endpoint's ingestion on a real PGlite store: a retried batch
// is recorded once.
import { expect } from 'chai';
import { usePgliteStore } from '../../testing/audit-store.js';
import type { AgentIdentity } from '../../api/types.js';
import type { ApiserverAuditEvent } from './sink.js';
import { ingest } from './sink.js';

const agent = { metadata: { name: 'deploy-bot' } } as AgentIdentity;
const agentFor = (u: { username?: string }) => (u.username === 'agent:deploy-bot' ? agent : undefined);

function read(id: string, time?: string): ApiserverAuditEvent {
  return {
    auditID: id,
    stage: 'ResponseComplete',
    verb: 'get',
    user: { username: 'agent:deploy-bot', groups: ['agentgate:agents'] },
    objectRef: { resource: 'configmaps', namespace: 'payments', name: 'cm', apiVersion: 'v1' },
    responseStatus: { code: 200 },
    ...(time ? { requestReceivedTimestamp: time, stageTimestamp: time } : {}),
  };
}

describe('apiserver audit batches: ingestion', function () {
  this.timeout(30_000);
  const opened = usePgliteStore('sink-test');

  it('records a retried batch once, its events timed to the microsecond', async function () {
    const batch = [read('a1', '2026-11-30T12:00:00.000001Z'), read('a2', '2026-11-30T12:00:00.999999Z'), read('a3', '2026-11-30T12:00:01Z')];
    expect(await ingest(opened.store, batch, agentFor)).to.include({ recorded: 3 });
    expect(await ingest(opened.store, batch, agentFor)).to.include({ recorded: 0 });
    // Alone, the microsecond event is both ends of the searched span.
    expect(await ingest(opened.store, [batch[1]!], agentFor)).to.include({ recorded: 0 });
    expect(await ingest(opened.store, [batch[1]!, read('a4', '2026-11-30T12:00:02Z')], agentFor)).to.include({ recorded: 1 });
  });

  it('records a retried batch once when some events carry no time', async function () {
    const batch = [read('b1', '2026-11-30T12:00:00Z'), read('b2')];
    expect(await ingest(opened.store, batch, agentFor)).to.include({ recorded: 2 });
    expect(await ingest(opened.store, batch, agentFor)).to.include({ recorded: 0 });
  });
});
