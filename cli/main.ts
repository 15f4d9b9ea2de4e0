#!/usr/bin/env node
// agentgate CLI entry point; also `kubectl agentgate` (kubectl runs kubectl-agentgate).
import { run } from './run.js';
import type { Io } from './commands.js';

const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

process.exitCode = await run(process.argv.slice(2), processIo);
