// A visible wait: the demo's waits (the grant's window closing) count down instead of
// going silent. On a terminal one line is rewritten every second; in a log, one line every
// 10 s, so CI output stays short.

export interface CountdownIo {
  write(s: string): void;
  isTTY: boolean;
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realIo: CountdownIo = {
  write: (s) => process.stdout.write(s),
  isTTY: !!process.stdout.isTTY,
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** Waits until the clock reaches `until` (ms since epoch), showing "label: Ns left". */
export async function countdown(until: number, label: string, io: CountdownIo = realIo): Promise<void> {
  const every = io.isTTY ? 1000 : 10_000;
  for (;;) {
    const left = until - io.now();
    if (left <= 0) break;
    const line = `   ${label}: ${Math.ceil(left / 1000)}s left`;
    io.write(io.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
    await io.sleep(Math.min(every, left));
  }
  io.write(io.isTTY ? `\r   ${label}: done\x1b[K\n` : `   ${label}: done\n`);
}
