import { expect } from 'chai';
import { FakeClock, formatDuration, parseDuration, rfc3339 } from './clock.js';

describe('clock', function () {
  it('parses Go durations and refuses what Go refuses', function () {
    expect(parseDuration('20s')).to.equal(20_000);
    expect(parseDuration('1h30m')).to.equal(5_400_000);
    expect(parseDuration('1.5h')).to.equal(5_400_000);
    expect(parseDuration('250ms')).to.equal(250);
    expect(parseDuration('-5m')).to.equal(undefined);
    expect(parseDuration('forever')).to.equal(undefined);
    expect(parseDuration('')).to.equal(undefined);
    expect(parseDuration('10')).to.equal(undefined);
  });

  it('formats durations for people', function () {
    expect(formatDuration(90_000)).to.equal('1m30s');
    expect(formatDuration(7_200_000)).to.equal('2h');
    expect(formatDuration(0)).to.equal('0ms');
    expect(formatDuration(1000)).to.equal('1s');
  });

  it('a fake clock moves only when told', function () {
    const c = new FakeClock('2030-01-01T00:00:00Z');
    expect(rfc3339(c.now())).to.equal('2030-01-01T00:00:00Z');
    c.advance(1500);
    expect(c.now().toISOString()).to.equal('2030-01-01T00:00:01.500Z');
  });
});
