import { expect } from 'chai';
import { MAX_RESTORE_BACKOFF_MS, planAuditApiService, pollMs, restoreBackoffMs } from './apiservice.js';

describe('planAuditApiService', function () {
  const grace = 60_000;
  const fresh = () => ({ failedRestores: 0, restorePending: false });

  it('looks a quarter of the grace apart, between 1 s and 10 s', function () {
    expect([pollMs(2_000), pollMs(20_000), pollMs(600_000)]).to.deep.equal([1_000, 5_000, 10_000]);
  });

  it('waits no longer than the grace left before withdrawing', function () {
    const m = fresh();
    expect(planAuditApiService({ apiService: { available: false, uid: 'u' }, webhookHeard: false }, 0, grace, m)).to.deep.include({ type: 'none' });
    const a = planAuditApiService({ apiService: { available: false, uid: 'u' }, webhookHeard: false }, grace - 3_000, grace, m);
    expect(a).to.deep.equal({ type: 'none', requeueAfterMs: 3_000 });
    expect(planAuditApiService({ apiService: { available: false, uid: 'u' }, webhookHeard: true }, grace, grace, m)).to.include({ type: 'withdraw', uid: 'u' });
  });

  it('backs restores off: none at first, then the grace doubling per restore that never became Available, at most 10 minutes', function () {
    expect([0, 1, 2, 3, 20].map((n) => restoreBackoffMs(grace, n))).to.deep.equal([0, grace, 2 * grace, 4 * grace, MAX_RESTORE_BACKOFF_MS]);
    const m = { ...fresh(), failedRestores: 2, withdrawnAtMs: 0 };
    expect(planAuditApiService({ webhookHeard: true }, grace, grace, m)).to.deep.equal({ type: 'none', requeueAfterMs: pollMs(grace) });
    expect(planAuditApiService({ webhookHeard: true }, 2 * grace, grace, m)).to.include({ type: 'restore', reason: 'AuditAPIRestored' });
    expect(m.restorePending).to.equal(true);
  });
});
