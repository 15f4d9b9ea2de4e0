// The served object's metadata from a stored event.
import { expect } from 'chai';
import type { StoredEvent } from './store.js';
import { toObject } from './object.js';

function stored(time: string): StoredEvent {
  return {
    rv: '3',
    name: 'w-0000000001',
    source: 'admission',
    outcome: 'Completed',
    spec: {
      time,
      agent: 'deploy-bot',
      operation: 'CREATE',
      resource: 'configmaps',
      decision: 'Allowed',
      reason: 'covered',
      chain: { writer: 'w', sequence: 1, previousHash: '0'.repeat(64), hash: 'a'.repeat(64) },
    },
  } as StoredEvent;
}

describe('audit object: metadata of a stored event', function () {
  it('creationTimestamp is the time truncated to the second, whatever fraction the stored text has', function () {
    for (const t of ['2026-11-29T12:00:07Z', '2026-11-29T12:00:07.999Z', '2026-11-29T12:00:07.123456Z'])
      expect(toObject(stored(t), 'ns').metadata.creationTimestamp, t).to.equal('2026-11-29T12:00:07Z');
  });

  it('creationTimestamp of a time with an offset is its UTC instant', function () {
    expect(toObject(stored('2026-11-29T13:00:07.5+01:00'), 'ns').metadata.creationTimestamp).to.equal('2026-11-29T12:00:07Z');
  });

  it('the UID is the one a name has always had (sha256 of the group and name), and differs between names', function () {
    const a = toObject(stored('2026-11-29T12:00:07Z'), 'ns').metadata.uid;
    expect(a).to.equal('47218ce7-de11-b94b-63c3-26cb96434b0c');
    expect(toObject(stored('2026-11-30T00:00:00Z'), 'ns').metadata.uid).to.equal(a);
    expect(toObject({ ...stored('2026-11-29T12:00:07Z'), name: 'w-0000000002' }, 'ns').metadata.uid).to.not.equal(a);
  });
});
