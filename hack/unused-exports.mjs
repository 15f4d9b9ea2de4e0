// Lists exports of product code that no other file uses (a light ts-prune): an export
// is a promise to another module; one nobody keeps is dead code or should be private.
// Word match over the sources, so a name used only in a string still counts as used.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const DIRS = ['api', 'lib', 'cel', 'boundary', 'operator', 'webhook', 'cli', 'harness', 'packaging', 'demo', 'bench', 'e2e', 'testing'];
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
};
for (const d of DIRS) walk(d);
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const unused = [];
for (const [f, src] of text) {
  if (/\.(test|e2e)\.ts$/.test(f) || f.endsWith('main.ts') || f === 'api/generated.ts') continue;
  for (const m of src.matchAll(/^export (?:async )?(?:const|function|class|interface|type|enum) ([A-Za-z_$][\w$]*)/gm)) {
    const name = m[1];
    const re = new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`);
    const usedElsewhere = [...text].some(([g, t]) => g !== f && re.test(t));
    if (!usedElsewhere) unused.push(`${f}: ${name}`);
  }
}
// --strict fails on any; by default it reports (the backlog is not cleared yet).
if (unused.length) {
  process.stderr.write(`unused exports (use them, make them private, or delete them): ${unused.length}\n  ${unused.join('\n  ')}\n`);
  if (process.argv.includes('--strict')) process.exit(1);
}
