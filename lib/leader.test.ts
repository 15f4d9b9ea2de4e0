import { expect } from 'chai';
import { decideLease, recordKey } from './leader.js';

describe('decideLease', function () {
  const D = 15_000;
  const obs = (at: number, key = 'k') => ({ key, at });
  it('creates a missing lease', function () {
    expect(decideLease(undefined, false, 'a', obs(0), 0, D)).to.deep.equal({ action: 'create' });
  });
  it('renews its own lease, even straight after a restart', function () {
    expect(decideLease({ holderIdentity: 'a', leaseDurationSeconds: 15 }, true, 'a', obs(0), 0, D)).to.deep.equal({ action: 'renew' });
  });
  it('waits while another holder renewed within the lease duration, by our own clock', function () {
    expect(decideLease({ holderIdentity: 'b', leaseDurationSeconds: 15 }, true, 'a', obs(1000), 15_999, D)).to.deep.equal({ action: 'wait', holder: 'b' });
  });
  it('takes the lease once the holder stopped renewing for the lease duration', function () {
    expect(decideLease({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 2 }, true, 'a', obs(1000), 16_000, D)).to.deep.equal({
      action: 'take',
      transitions: 3,
    });
  });
  it('takes a released lease at once', function () {
    expect(decideLease({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 }, true, 'a', obs(1000), 1000, D)).to.deep.equal({
      action: 'take',
      transitions: 3,
    });
  });
  it('notices a renewal as a change of the record, whether times come as Date or string', function () {
    const t = '2030-01-01T00:00:00.000000Z';
    expect(recordKey({ holderIdentity: 'b', renewTime: t })).to.equal(recordKey({ holderIdentity: 'b', renewTime: new Date(t) }));
    expect(recordKey({ holderIdentity: 'b', renewTime: t })).to.not.equal(recordKey({ holderIdentity: 'b', renewTime: '2030-01-01T00:00:02.000000Z' }));
  });
});
