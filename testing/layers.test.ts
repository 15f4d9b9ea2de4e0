// The import graph, read from the sources: no arrow from a lower layer to a higher one,
// none between the two components, none into e2e/ from outside it, and test support
// (testing/) only in tests and benchmarks. The layers, lowest first, are the README's Layout table.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Package -> rank. A file may import its own package and packages of a lower rank. */
const LAYERS: Record<string, number> = {
  api: 0,
  lib: 1,
  cel: 2,
  boundary: 3,
  audit: 3,
  operator: 4,
  webhook: 4,
  cli: 5,
  harness: 6,
  packaging: 7,
  demo: 7,
  bench: 7,
  e2e: 8,
  testing: 9,
};

const isTest = (file: string): boolean => /\.(test|e2e|test-helpers)\.ts$/.test(file) || file.startsWith('e2e/');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm)) {
    out.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

const pkg = (file: string): string => file.split('/')[0]!;

/** Every arrow the rules forbid, as "from -> to: why". */
function violations(files: readonly string[], read: (f: string) => string[] = importsOf): string[] {
  const bad: string[] = [];
  for (const from of files) {
    const p = pkg(from);
    for (const to of read(from)) {
      const q = pkg(to);
      if (q === p) continue;
      const arrow = `${from} -> ${to}`;
      if (!(q in LAYERS)) bad.push(`${arrow}: ${q}/ is not in a layer`);
      else if (q === 'e2e') bad.push(`${arrow}: nothing outside e2e/ imports e2e/`);
      else if (q === 'testing') {
        if (!isTest(from) && p !== 'bench') bad.push(`${arrow}: testing/ is for tests and benchmarks only`);
      } else if (isTest(from) ? LAYERS[q]! > LAYERS[p]! : LAYERS[q]! >= LAYERS[p]!) {
        bad.push(`${arrow}: ${p}/ (layer ${LAYERS[p]}) may not import ${q}/ (layer ${LAYERS[q]})`);
      }
    }
  }
  return bad;
}

describe('layers: the import graph', function () {
  const files = Object.keys(LAYERS).flatMap(sources);

  it('reads every package of the tree (no source outside a layer)', function () {
    const dirs = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !['node_modules', 'dist', 'hack', 'charts', 'crds', 'config', 'examples'].includes(e.name) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .filter((d) => sources(d).length > 0);
    expect(dirs.filter((d) => !(d in LAYERS))).to.deep.equal([]);
    expect(files.length).to.be.greaterThan(100);
  });

  it('has no arrow from a lower layer to a higher one, between the components, or into e2e/', function () {
    expect(violations(files)).to.deep.equal([]);
  });

  it('catches the arrows it forbids', function () {
    const graph: Record<string, string[]> = {
      'lib/a.ts': ['webhook/b.ts'],
      'operator/a.ts': ['webhook/b.ts'],
      'demo/a.ts': ['e2e/cluster.ts'],
      'webhook/a.ts': ['testing/fixtures.ts'],
      'webhook/a.test.ts': ['testing/fixtures.ts', 'operator/plan/grant.ts'],
      'boundary/a.ts': ['cel/cel.ts', 'api/types.ts'],
    };
    expect(violations(Object.keys(graph), (f) => graph[f]!)).to.deep.equal([
      'lib/a.ts -> webhook/b.ts: lib/ (layer 1) may not import webhook/ (layer 4)',
      'operator/a.ts -> webhook/b.ts: operator/ (layer 4) may not import webhook/ (layer 4)',
      'demo/a.ts -> e2e/cluster.ts: nothing outside e2e/ imports e2e/',
      'webhook/a.ts -> testing/fixtures.ts: testing/ is for tests and benchmarks only',
    ]);
  });
});
