import { expect } from 'chai';
import type { AuditEvent } from '../../api/types.js';
import { planAuditRetention } from './audit.js';

const ev = (name: string, time?: string, created?: string): Pick<AuditEvent, 'metadata' | 'spec'> =>
  ({ metadata: { name, creationTimestamp: created }, spec: { time } }) as unknown as Pick<AuditEvent, 'metadata' | 'spec'>;

describe('planAuditRetention', function () {
  const now = new Date('2030-02-01T00:00:00Z');
  const day = 86_400_000;

  it('deletes only events older than the retention, by spec.time', function () {
    const events = [ev('old', '2030-01-01T00:00:00Z'), ev('edge', '2030-01-02T00:00:00Z'), ev('new', '2030-01-31T00:00:00Z')];
    expect(planAuditRetention(events, now, 30 * day)).to.deep.equal(['old']);
  });

  it('falls back to creationTimestamp, and keeps events whose age it cannot tell', function () {
    const events = [ev('by-creation', undefined, '2029-01-01T00:00:00Z'), ev('unknown'), ev('garbage', 'yesterday')];
    expect(planAuditRetention(events, now, day)).to.deep.equal(['by-creation']);
  });
});
