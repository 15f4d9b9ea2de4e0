// Root hooks for the e2e suite: when a test fails, print the tail of the control
// plane's logs once at the end, so a red CI run shows why.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { clusterEnv } from './cluster.js';

let failures = 0;

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    if (this.currentTest?.state === 'failed') failures++;
  },
  afterAll() {
    if (failures === 0) return;
    let logDir: string | undefined;
    try {
      logDir = clusterEnv().logDir;
    } catch {
      return;
    }
    if (!logDir || !existsSync(logDir)) return;
    for (const f of readdirSync(logDir).sort()) {
      const lines = readFileSync(path.join(logDir, f), 'utf8').trimEnd().split('\n');
      console.error(`\n----- ${path.join(logDir, f)} (last 40 of ${lines.length} lines) -----`);
      console.error(lines.slice(-40).join('\n'));
    }
  },
};
