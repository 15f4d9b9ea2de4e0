import { expect } from 'chai';
import { countdown, type CountdownIo } from './countdown.js';

function fakeIo(isTTY: boolean): CountdownIo & { out: string; t: number } {
  const io = {
    out: '',
    t: 0,
    isTTY,
    write: (s: string) => void (io.out += s),
    now: () => io.t,
    sleep: async (ms: number) => void (io.t += ms),
  };
  return io;
}

describe('demo countdown', () => {
  it('in a log: one line every 10 s, then done, and returns at the deadline', async () => {
    const io = fakeIo(false);
    await countdown(25_000, 'window closes', io);
    expect(io.out).to.equal('   window closes: 25s left\n   window closes: 15s left\n   window closes: 5s left\n   window closes: done\n');
    expect(io.t).to.equal(25_000);
  });

  it('on a terminal: rewrites one line every second', async () => {
    const io = fakeIo(true);
    await countdown(2_500, 'window closes', io);
    expect(io.out).to.equal(
      '\r   window closes: 3s left\x1b[K\r   window closes: 2s left\x1b[K\r   window closes: 1s left\x1b[K\r   window closes: done\x1b[K\n',
    );
    expect(io.t).to.equal(2_500);
  });

  it('a deadline already past returns at once', async () => {
    const io = fakeIo(false);
    io.t = 10_000;
    await countdown(5_000, 'window closes', io);
    expect(io.out).to.equal('   window closes: done\n');
    expect(io.t).to.equal(10_000);
  });
});
