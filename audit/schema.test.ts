import { expect } from 'chai';
import { closedPartitions, expiredPartitions, partitionDay, partitionFor } from './schema.js';

describe('audit partitions', function () {
  it('one partition per UTC day', function () {
    expect(partitionFor(new Date('2026-03-04T23:59:59.999Z'))).to.deep.equal({
      name: 'agentgate_audit_events_p20260304',
      from: '2026-03-04T00:00:00.000Z',
      to: '2026-03-05T00:00:00.000Z',
    });
    expect(partitionDay('agentgate_audit_events_p20260304')?.toISOString()).to.equal('2026-03-04T00:00:00.000Z');
    expect(partitionDay('other_table')).to.equal(undefined);
  });

  it('retention drops only days that ended before now - retention', function () {
    const names = ['agentgate_audit_events_p20260101', 'agentgate_audit_events_p20260102', 'agentgate_audit_events_p20260103', 'unrelated'];
    // 2 days retention at 2026-01-04T12:00: the cutoff is 01-02T12:00, so only 01-01 ended before it.
    expect(expiredPartitions(names, new Date('2026-01-04T12:00:00Z'), 2 * 86_400_000)).to.deep.equal(['agentgate_audit_events_p20260101']);
    expect(expiredPartitions(names, new Date('2026-01-05T00:00:00Z'), 2 * 86_400_000)).to.deep.equal([
      'agentgate_audit_events_p20260101',
      'agentgate_audit_events_p20260102',
    ]);
  });

  it('clusters only days that ended a grace ago, newest first', function () {
    const names = ['agentgate_audit_events_p20260101', 'agentgate_audit_events_p20260103', 'agentgate_audit_events_p20260102', 'unrelated'];
    // At 01-03T00:30 with a 1 h grace, 01-02 ended only 30 min ago: not yet closed.
    expect(closedPartitions(names, new Date('2026-01-03T00:30:00Z'), 3_600_000)).to.deep.equal(['agentgate_audit_events_p20260101']);
    expect(closedPartitions(names, new Date('2026-01-03T01:00:00Z'), 3_600_000)).to.deep.equal([
      'agentgate_audit_events_p20260102',
      'agentgate_audit_events_p20260101',
    ]);
  });
});
