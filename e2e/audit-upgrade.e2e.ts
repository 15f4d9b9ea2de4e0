// The upgrade from AuditEvent custom resources (agentgate.io, in etcd) to the audit store:
// a webhook that starts on a fresh store imports every legacy event of its namespace once,
// chains intact, and never again. The legacy CRD is rebuilt from the schema the aggregated
// API serves (same shape, group agentgate.io), as earlier releases installed it.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import type { CRD } from '../api/crds.js';
import { AGENTGATE_NAMESPACE, GROUP, VERSION } from '../api/types.js';
import type { AuditEventSpec } from '../api/types.js';
import { openDb } from '../audit/db.js';
import { appendEvent, emptyHead, verifyChain } from '../lib/audit-chain.js';
import type { ChainHead } from '../lib/audit-chain.js';
import { rfc3339 } from '../lib/clock.js';
import { eventually, kubectl, kubectlOk, repoRoot, uniqueName } from '../harness/cluster.js';
import { componentKubeconfig, freePort, installBase, type RunningComponent, startProcess } from '../harness/components.js';

const LEGACY_CRD = `auditevents.${GROUP}`;

function legacyCrd(): CRD {
  const crd = yaml.load(readFileSync(path.join(repoRoot, 'audit', 'api', 'auditevents.audit.agentgate.io.yaml'), 'utf8')) as CRD;
  crd.metadata.name = LEGACY_CRD;
  crd.spec.group = GROUP;
  // kubectl's short names stay with the aggregated API.
  delete crd.spec.names.shortNames;
  delete crd.spec.names.categories;
  return crd;
}

describe('audit: upgrading from AuditEvent custom resources', function () {
  const writer = uniqueName('legacy-webhook-0');
  const names: string[] = [];
  let dataDir = '';
  let webhook: RunningComponent | undefined;

  async function startWebhook(): Promise<RunningComponent> {
    const port = await freePort();
    // Its own PGlite directory: a fresh store, as at the first start after the upgrade.
    const w = startProcess('webhook', `upgrade-${writer}`, [
      '--kubeconfig',
      await componentKubeconfig('webhook'),
      '--port',
      String(port),
      '--url',
      `https://127.0.0.1:${port}`,
      '--manage-configurations=false',
      '--audit-store',
      'pglite',
      '--audit-data-dir',
      dataDir,
    ]);
    await eventually(
      async () => {
        if (!w.alive) throw new Error(`webhook exited:\n${w.log().slice(-3000)}`);
        return w.log().includes('caches synced and audit chain resumed');
      },
      180_000,
      'the webhook to open its store',
    );
    return w;
  }

  async function storedLegacy(): Promise<Array<{ name: string; spec: AuditEventSpec }>> {
    const db = await openDb({ engine: 'pglite', dataDir });
    try {
      const rows = await db.query<{ name: string; spec: AuditEventSpec | string }>(
        'SELECT name, spec FROM agentgate_audit_events WHERE writer = $1 ORDER BY sequence',
        [writer],
      );
      return rows.map((r) => ({ name: r.name, spec: typeof r.spec === 'string' ? (JSON.parse(r.spec) as AuditEventSpec) : r.spec }));
    } finally {
      await db.close();
    }
  }

  before(async function () {
    await installBase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'agentgate-upgrade-'));
    await kubectlOk('admin', ['apply', '--server-side', '-f', '-'], JSON.stringify(legacyCrd()));
    await kubectlOk('admin', ['wait', '--for=condition=Established', `crd/${LEGACY_CRD}`, '--timeout=60s']);
    let head: ChainHead = emptyHead(writer);
    for (let i = 0; i < 3; i++) {
      const r = appendEvent(head, {
        time: rfc3339(new Date(Date.now() - (3 - i) * 60_000)),
        agent: 'deploy-bot',
        user: 'agent:deploy-bot',
        operation: 'CREATE',
        group: '',
        version: 'v1',
        resource: 'configmaps',
        namespace: 'payments',
        name: `cm-${i}`,
        decision: 'Allowed',
        reason: 'covered by grant hotfix',
        requestUID: `uid-${writer}-${i}`,
      });
      head = r.head;
      const name = `${writer}-${String(i + 1).padStart(10, '0')}`;
      names.push(name);
      const doc = { apiVersion: `${GROUP}/${VERSION}`, kind: 'AuditEvent', metadata: { name, namespace: AGENTGATE_NAMESPACE }, spec: r.spec };
      await eventually(async () => (await kubectl('admin', [`create`, '-f', '-'], JSON.stringify(doc))).code === 0, 30_000, 'a legacy AuditEvent');
    }
  });

  after(async function () {
    await webhook?.stop();
    // Waited for: while it exists, `kubectl get auditevents` could resolve to the legacy group.
    await kubectl('admin', ['delete', 'crd', LEGACY_CRD, '--ignore-not-found', '--timeout=120s']);
    // kubectl caches discovery: refresh it, as the README's upgrade steps say.
    await kubectl('admin', ['api-resources', '--api-group', 'audit.agentgate.io']);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('imports every legacy event at the first start, chain intact, and only once', async function () {
    webhook = await startWebhook();
    const imported = webhook
      .log()
      .split('\n')
      .find((l) => l.includes('imported AuditEvent custom resources into the audit store'));
    expect(imported, 'the import is logged').to.contain(`"imported":${names.length}`);
    await webhook.stop();
    const first = await storedLegacy();
    expect(first.map((e) => e.name)).to.deep.equal(names);
    const verified = verifyChain(first.map((e) => ({ metadata: { name: e.name }, spec: e.spec })));
    expect(verified.ok, JSON.stringify(verified.problems)).to.equal(true);

    // A second start finds the import done: nothing read or written twice.
    const logBefore = webhook.log().length;
    webhook = await startWebhook();
    expect(webhook.log().slice(logBefore)).to.not.contain('imported AuditEvent custom resources');
    await webhook.stop();
    expect((await storedLegacy()).map((e) => e.name)).to.deep.equal(names);
  });
});
