// Root hooks for the e2e suite: when a test fails, print the tail of the control
// plane's logs once at the end, so a red CI run shows why.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { clusterEnv } from '../harness/cluster.js';
import { stopAll, runDir } from '../harness/components.js';

let failures = 0;

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    if (this.currentTest?.state === 'failed') failures++;
  },
  async afterAll() {
    await stopAll();
    if (failures === 0) return;
    let logDir: string | undefined;
    try {
      logDir = clusterEnv().logDir;
    } catch {
      return;
    }
    for (const dir of [logDir, runDir]) {
      if (!dir || !existsSync(dir)) continue;
      for (const f of readdirSync(dir)
        .filter((n) => n.endsWith('.log'))
        .sort()) {
        const lines = readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n');
        console.error(`\n----- ${path.join(dir, f)} (last 40 of ${lines.length} lines) -----`);
        console.error(lines.slice(-40).join('\n'));
      }
    }
  },
};
