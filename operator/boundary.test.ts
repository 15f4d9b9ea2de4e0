import { expect } from 'chai';
import { nextPassDelayMs } from './boundary.js';

describe('boundary verification pacing', function () {
  it('keeps the debounce while passes are cheap', function () {
    expect(nextPassDelayMs(2000, 0)).to.equal(2000);
    expect(nextPassDelayMs(2000, 300)).to.equal(2000);
  });

  it('waits four passes long after a costly pass, so verification takes at most a fifth of the time', function () {
    expect(nextPassDelayMs(2000, 1000)).to.equal(4000);
    expect(nextPassDelayMs(2000, 2500)).to.equal(10_000);
  });

  it('never delays what is asked for now (start, the periodic backstop)', function () {
    expect(nextPassDelayMs(0, 5000)).to.equal(0);
  });
});
