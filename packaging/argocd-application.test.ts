// The Argo CD examples, checked against Argo CD's own sync-option semantics: every option
// is one Argo CD knows with a value it accepts (an unknown one is silently ignored by Argo
// CD, which is how a wrong example survives), grants are applied server-side and never
// replaced, and sync waves only order resources within one Application.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { repoRoot } from '../harness/cluster.js';

/** Argo CD's sync options and their accepted values (docs/user-guide/sync-options.md). */
const ARGOCD_SYNC_OPTIONS: Record<string, readonly string[]> = {
  Prune: ['false', 'confirm'],
  Delete: ['false', 'confirm'],
  Validate: ['true', 'false'],
  SkipDryRunOnMissingResource: ['true'],
  CreateNamespace: ['true'],
  ApplyOutOfSyncOnly: ['true'],
  PruneLast: ['true'],
  PrunePropagationPolicy: ['foreground', 'background', 'orphan'],
  Replace: ['true'],
  Force: ['true'],
  ServerSideApply: ['true', 'false'],
  ClientSideApplyMigration: ['true', 'false'],
  FailOnSharedResource: ['true'],
  RespectIgnoreDifferences: ['true'],
};

function syncOptionErrors(options: readonly string[]): string[] {
  const errors: string[] = [];
  for (const o of options) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(o.trim());
    if (!m) {
      errors.push(`"${o}" is not NAME=VALUE`);
      continue;
    }
    const allowed = ARGOCD_SYNC_OPTIONS[m[1]!];
    if (!allowed) errors.push(`"${m[1]}" is not an Argo CD sync option`);
    else if (!allowed.includes(m[2]!)) errors.push(`${m[1]}=${m[2]}: Argo CD accepts ${allowed.join(' or ')}`);
  }
  return errors;
}

type Doc = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: { syncPolicy?: { syncOptions?: string[] } } };
const dir = path.join(repoRoot, 'examples', 'argocd');
const files = readdirSync(dir).filter((f) => f.endsWith('-application.yaml'));

describe('Argo CD examples', function () {
  it('the checker itself refuses unknown options and values', function () {
    expect(syncOptionErrors(['ServerSideApply=true', 'Prune=false'])).to.deep.equal([]);
    expect(syncOptionErrors(['ServerSideApply=yes'])).to.have.length(1);
    expect(syncOptionErrors(['ServerSideAply=true'])).to.deep.equal(['"ServerSideAply" is not an Argo CD sync option']);
  });

  for (const f of files) {
    describe(f, function () {
      const docs = (yaml.loadAll(readFileSync(path.join(dir, f), 'utf8')) as Doc[]).filter(Boolean);
      const apps = docs.filter((d) => d.kind === 'Application');

      it('uses only sync options Argo CD knows, with values it accepts', function () {
        expect(apps).to.not.be.empty;
        for (const a of apps) expect(syncOptionErrors(a.spec.syncPolicy?.syncOptions ?? [])).to.deep.equal([]);
        for (const d of docs) {
          const ann = d.metadata.annotations?.['argocd.argoproj.io/sync-options'];
          if (ann) expect(syncOptionErrors(ann.split(','))).to.deep.equal([]);
        }
      });

      it('applies server-side and never replaces (Replace PUTs grants without their finalizer and stamp)', function () {
        for (const a of apps) {
          const opts: string[] = a.spec.syncPolicy?.syncOptions ?? [];
          expect(opts).to.include('ServerSideApply=true');
          expect(opts.filter((o) => o.startsWith('Replace=') || o.startsWith('Force='))).to.deep.equal([]);
        }
      });

      it('claims sync-wave order only among resources of its own Application: identities before grants', function () {
        const wave = (d: Doc) => Number(d.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
        const identities = docs.filter((d) => d.kind === 'AgentIdentity');
        const grants = docs.filter((d) => d.kind === 'AccessGrant');
        for (const g of grants) for (const i of identities) expect(wave(i), `${i.metadata.name} before ${g.metadata.name}`).to.be.lessThan(wave(g));
        // A wave on an Application orders nothing in another Application's sync.
        for (const a of apps) expect(a.metadata.annotations?.['argocd.argoproj.io/sync-wave']).to.equal(undefined);
        // Grants need their CRD, which another Application installs: tolerate its absence.
        if (grants.length) for (const a of apps) expect(a.spec.syncPolicy?.syncOptions).to.include('SkipDryRunOnMissingResource=true');
      });
    });
  }
});
