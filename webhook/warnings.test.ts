import { expect } from 'chai';
import { FakeClock } from '../lib/clock.js';
import { activeGrant } from '../testing/fixtures.js';
import { expiryWarning, expiryWarningThresholdMs } from './warnings.js';

describe('webhook/warnings', () => {
  it('a window is late in its last quarter, never more than 10 minutes before its end', () => {
    expect(expiryWarningThresholdMs(60_000)).to.equal(15_000);
    expect(expiryWarningThresholdMs(30 * 60_000)).to.equal(7.5 * 60_000);
    expect(expiryWarningThresholdMs(8 * 3600_000)).to.equal(10 * 60_000);
    expect(expiryWarningThresholdMs(NaN)).to.equal(10 * 60_000);
  });

  it('warns with the time left as a Go duration, and not once the window has closed', () => {
    const clock = new FakeClock();
    const g = activeGrant(clock, 'x', { namespace: 'payments', expiresInMs: 192_000 });
    g.status!.activatedAt = new Date(clock.now().getTime() - 3600_000).toISOString();
    expect(expiryWarning(g, clock.now())).to.match(/^agentgate: grant payments\/x expires in 3m12s \(at .+Z\)/);
    // 21 minutes in all, 20 left: early in the window.
    expect(expiryWarning(activeGrant(clock, 'y', { expiresInMs: 20 * 60_000 }), clock.now())).to.equal(undefined);
    clock.advance(193_000);
    expect(expiryWarning(g, clock.now())).to.equal(undefined);
  });
});
