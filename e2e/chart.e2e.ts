// The chart's rendered manifests against the real apiserver (server-side dry run): every
// object, with default and with full values, is one the apiserver accepts as written.
import { expect } from 'chai';
import yaml from 'js-yaml';
import { kubectl, kubectlOk, uniqueName } from '../harness/cluster.js';
import { ensureCrds } from '../harness/crds.js';
import { FULL_VALUES, render } from '../packaging/helm.js';

// The full values render a ServiceMonitor, a PrometheusRule and a cert-manager Certificate.
// Their operators are not part of this cluster, so stand-in CRDs (schema-less) let the
// apiserver accept the objects' shape; their own schemas are those projects' to check.
const STAND_INS = [
  ['monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors'],
  ['monitoring.coreos.com', 'PrometheusRule', 'prometheusrules'],
  ['cert-manager.io', 'Certificate', 'certificates'],
].map(([group, kind, plural]) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { kind, plural, singular: kind!.toLowerCase(), listKind: `${kind}List` },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
}));

describe('Helm chart against the real apiserver', function () {
  this.timeout(600_000);
  const ns = uniqueName('agentgate-chart');

  before(async function () {
    await ensureCrds();
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await kubectlOk('admin', ['apply', '-f', '-'], STAND_INS.map((d) => yaml.dump(d)).join('---\n'));
    for (const d of STAND_INS) await kubectlOk('admin', ['wait', '--for=condition=Established', `crd/${d.metadata.name}`, '--timeout=60s']);
  });

  after(async function () {
    await kubectl('admin', ['delete', 'namespace', ns, '--wait=false']);
  });

  for (const [label, extra] of [
    ['default values', []],
    ['full values', FULL_VALUES],
  ] as const) {
    it(`${label}: every rendered object passes a server-side dry run`, async function () {
      const docs = render(ns, [...extra]);
      expect(docs.length).to.be.greaterThan(10);
      const r = await kubectl(
        'admin',
        ['apply', '--dry-run=server', '--server-side', '--force-conflicts', '--field-manager=helm-e2e', '-f', '-'],
        docs.map((d) => yaml.dump(d)).join('---\n'),
      );
      expect(r.code, r.stderr).to.equal(0);
      for (const d of docs) expect(r.stdout).to.contain(`${d.metadata.name} serverside-applied (server dry run)`);
    });
  }
});
