// Runs every benchmark in dist/bench one after another and lets each print its figures.
// Files starting with '_' are helpers, not benchmarks. BENCH=name-substring selects some.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.env.BENCH;
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .filter((f) => !only || f.includes(only))
  .sort();
let failed = 0;
for (const f of benches) {
  console.log(`\n=== ${f.replace(/\.js$/, '')}`);
  const r = spawnSync(process.execPath, [path.join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`!!! ${f} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
