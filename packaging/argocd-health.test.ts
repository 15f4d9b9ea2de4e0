import { expect } from 'chai';
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { execFileSync } from 'node:child_process';
import { runHealth } from './lua.js';
import type { CRD } from '../api/crds.js';
import { repoRoot } from '../harness/cluster.js';

// Every charts/agentgate/argocd/<group>/<Kind>/ with a health.lua and its health_test.yaml
// (Argo CD's own layout for resource_customizations).
const root = path.join(repoRoot, 'charts', 'agentgate', 'argocd');
const checks = readdirSync(root).flatMap((group) =>
  readdirSync(path.join(root, group))
    .filter((kind) => existsSync(path.join(root, group, kind, 'health.lua')))
    .map((kind) => ({ group, kind, dir: path.join(root, group, kind) })),
);

/** The CRD of group/kind in crds/, found by its names rather than a guessed file name. */
function crdOf(group: string, kind: string): CRD {
  const dir = path.join(repoRoot, 'crds');
  for (const f of readdirSync(dir)) {
    const crd = yaml.load(readFileSync(path.join(dir, f), 'utf8')) as CRD | undefined;
    if (crd?.spec?.group === group && crd.spec.names?.kind === kind) return crd;
  }
  throw new Error(`no CRD for ${group}/${kind} in crds/`);
}

describe('Argo CD health checks (gopher-lua, as Argo CD runs them)', function () {
  this.timeout(600_000); // the first run builds the interpreter from its Go module

  it('finds the health checks', function () {
    expect(checks.map((c) => c.kind)).to.include.members(['AccessGrant', 'ApprovalRequest']);
  });

  it('examples/argocd/argocd-cm-health.yaml carries exactly these scripts (regenerate with hack/argocd-cm.sh)', function () {
    const patch = readFileSync(path.join(repoRoot, 'examples', 'argocd', 'argocd-cm-health.yaml'), 'utf8');
    const generated = execFileSync(path.join(repoRoot, 'hack', 'argocd-cm.sh'), { encoding: 'utf8' });
    expect(patch.endsWith(generated)).to.equal(true);
    const data = (yaml.load(patch) as { data: Record<string, string> }).data;
    expect(Object.keys(data)).to.have.length(checks.length);
    for (const { group, kind, dir } of checks) {
      expect(data[`resource.customizations.health.${group}_${kind}`]).to.equal(readFileSync(path.join(dir, 'health.lua'), 'utf8'));
    }
  });

  describe('the interpreter', function () {
    let tmp: string;
    before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'agentgate-lua-'))));
    after(() => rmSync(tmp, { recursive: true, force: true }));
    const script = (name: string, body: string) => {
      const p = path.join(tmp, name);
      writeFileSync(p, body);
      return p;
    };

    it('opens only what Argo CD opens: base, table, package, and require("os") with time and date', function () {
      const probe = script(
        'probe.lua',
        `local os = require("os")
         local seen = {}
         for _, name in ipairs({"string", "math", "io", "debug", "coroutine", "channel"}) do
           if _G[name] ~= nil then table.insert(seen, name) end
         end
         if type(os.time()) ~= "number" or os.date == nil then table.insert(seen, "os without time/date") end
         for _, fn in ipairs({"exit", "execute", "getenv", "remove", "rename"}) do
           if os[fn] ~= nil then table.insert(seen, "os." .. fn) end
         end
         if _G.os ~= nil then table.insert(seen, "global os") end
         return {status = "Healthy", message = table.concat(seen, ",")}`,
      );
      expect(runHealth(probe, {})).to.deep.equal({ status: 'Healthy' });
    });

    it('fails a script that uses a library Argo CD does not open (string.format works in stock Lua)', function () {
      const s = script('format.lua', 'return {status = "Healthy", message = string.format("%d grants", 2)}');
      expect(() => runHealth(s, {})).to.throw(/format\.lua.*attempt to index a non-table object\(nil\) with key 'format'/s);
    });

    it('hands the object over as Argo CD does (arrays from 1, null as nil, numbers as numbers) and maps an unknown status to Unknown', function () {
      const s = script('obj.lua', 'return {status = obj.spec.status, message = obj.spec.list[1] .. tostring(obj.spec.missing) .. (obj.spec.n + 1)}');
      expect(runHealth(s, { spec: { status: 'Degraded', list: ['a', 'b'], missing: null, n: 41 } })).to.deep.equal({ status: 'Degraded', message: 'anil42' });
      expect(runHealth(s, { spec: { status: 'Fine', list: ['a'], n: 0 } })).to.deep.equal({
        status: 'Unknown',
        message: 'Lua returned an invalid health status',
      });
    });
  });

  for (const { group, kind, dir } of checks) {
    const tests = (
      yaml.load(readFileSync(path.join(dir, 'health_test.yaml'), 'utf8')) as {
        tests: Array<{ healthStatus: { status: string; message?: string }; inputPath: string }>;
      }
    ).tests;
    const scriptPath = path.join(dir, 'health.lua');
    describe(`${group}/${kind}`, function () {
      const phases = crdOf(group, kind).spec.versions[0]?.schema.openAPIV3Schema.properties?.status?.properties?.phase?.enum as string[] | undefined;
      if (phases) {
        it('has a sample for every phase the CRD defines', function () {
          const covered = new Set(
            tests.map((t) => (yaml.load(readFileSync(path.join(dir, t.inputPath), 'utf8')) as { status?: { phase?: string } }).status?.phase).filter(Boolean),
          );
          for (const p of phases) expect(covered, `no sample for phase ${p}`).to.include(p);
        });
      }
      for (const t of tests) {
        it(`${t.inputPath} -> ${t.healthStatus.status}`, function () {
          expect(existsSync(path.join(dir, t.inputPath))).to.equal(true);
          const obj = yaml.load(readFileSync(path.join(dir, t.inputPath), 'utf8'));
          expect(runHealth(scriptPath, obj)).to.deep.equal(t.healthStatus);
        });
      }
    });
  }
});
