import { expect } from 'chai';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { execFileSync } from 'node:child_process';
import { luaBinary, runHealth, toLua } from './lua.js';
import { repoRoot } from '../e2e/cluster.js';

const root = path.join(repoRoot, 'charts', 'agentgate', 'argocd', 'agentgate.io');

describe('Argo CD health checks (Lua 5.4)', function () {
  const lua = luaBinary();
  before(function () {
    // .ci/run installs Debian's lua5.4; a developer machine without it is told how.
    if (!lua) throw new Error('no Lua interpreter: apt-get install lua5.4 (or set LUA=/path/to/lua)');
  });

  it('examples/argocd/argocd-cm-health.yaml carries exactly these scripts (regenerate with hack/argocd-cm.sh)', function () {
    const patch = readFileSync(path.join(repoRoot, 'examples', 'argocd', 'argocd-cm-health.yaml'), 'utf8');
    const generated = execFileSync(path.join(repoRoot, 'hack', 'argocd-cm.sh'), { encoding: 'utf8' });
    expect(patch.endsWith(generated)).to.equal(true);
    const data = (yaml.load(patch) as { data: Record<string, string> }).data;
    for (const kind of readdirSync(root)) {
      expect(data[`resource.customizations.health.agentgate.io_${kind}`]).to.equal(readFileSync(path.join(root, kind, 'health.lua'), 'utf8'));
    }
  });

  it('encodes JSON as Lua tables', function () {
    expect(toLua({ a: [1, 'x'], b: null })).to.equal('{["a"] = {1, "x"}, ["b"] = nil}');
  });

  for (const kind of readdirSync(root)) {
    const dir = path.join(root, kind);
    const tests = (yaml.load(readFileSync(path.join(dir, 'health_test.yaml'), 'utf8')) as {
      tests: Array<{ healthStatus: { status: string; message: string }; inputPath: string }>;
    }).tests;
    const script = readFileSync(path.join(dir, 'health.lua'), 'utf8');
    describe(kind, function () {
      it('has a sample for every phase the CRD defines (without phases: for every health status)', function () {
        const crd = yaml.load(readFileSync(path.join(repoRoot, 'crds', `agentgate.io_${kind.toLowerCase().replace(/y$/, 'ie')}s.yaml`), 'utf8')) as any;
        const phases: string[] | undefined = crd.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.phase?.enum;
        if (!phases) {
          const statuses = new Set(tests.map((t) => t.healthStatus.status));
          for (const s of ['Healthy', 'Progressing', 'Degraded', 'Suspended']) expect(statuses, `no sample for ${s}`).to.include(s);
          return;
        }
        const covered = new Set(
          tests.map((t) => (yaml.load(readFileSync(path.join(dir, t.inputPath), 'utf8')) as any).status?.phase).filter(Boolean),
        );
        for (const p of phases) expect(covered, `no sample for phase ${p}`).to.include(p);
      });
      for (const t of tests) {
        it(`${t.inputPath} -> ${t.healthStatus.status}`, function () {
          expect(existsSync(path.join(dir, t.inputPath))).to.equal(true);
          const obj = yaml.load(readFileSync(path.join(dir, t.inputPath), 'utf8'));
          expect(runHealth(lua!, script, obj)).to.deep.equal(t.healthStatus);
        });
      }
    });
  }
});
