// The record at fleet scale, end to end: AuditEvents live in the audit database (a real
// PostgreSQL from hack/postgres, or PGlite) behind the aggregated API audit.agentgate.io,
// reached through the real kube-apiserver (front proxy, delegated authn/authz) with the
// real kubectl. The apiserver's audit backend adds what admission never sees (reads and
// RBAC-refused calls) and settles admitted calls as Completed or Failed.
import { expect } from 'chai';
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import type { AuditEvent } from '../api/types.js';
import { AGENTGATE_NAMESPACE, AUDIT_APISERVICE, AUDIT_GROUP, AUDIT_SERVICE } from '../api/types.js';
import { clusterEnv, eventually, kubectl, kubectlOk, readRunEnv, repoRoot, run, uniqueName } from '../harness/cluster.js';
import { startAgentgate, webhookReady, stopAgentgate, type RunningComponent } from '../harness/components.js';
import { auditApiAvailable, postgresDsn } from '../harness/audit-store.js';
import { acknowledgementKey, CHECKPOINT_CONFIGMAP, checkpointKey, signCheckpoint } from '../audit/checkpoint.js';
import { FINGERPRINT_KEY, KEY_SECRET } from '../webhook/tls.js';
import { applyAgent, applyGrant, grantActive } from './agents.js';

const AGENT_USER = 'agent:deploy-bot';

describe('audit: records in a database behind an aggregated API', function () {
  const agent = uniqueName('e2e-audit');
  const ns = uniqueName('audit');
  let components: { webhook: RunningComponent; operator: RunningComponent } | undefined;

  before(async function () {
    if (!clusterEnv().local) this.skip(); // the aggregated API and the audit backend are wired by hack/controlplane/up.sh
    components = await startAgentgate({ name: 'audit' });
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await applyAgent(agent, [ns]);
    await applyGrant('g', ns, agent, { duration: '30m', reason: 'e2e audit' });
    await grantActive('g', ns);
    await auditApiAvailable();
  });

  // A test that stops the webhook and fails before starting it again must not leave the
  // next tests, or this file's cleanup (the protect webhook guards the AgentIdentity's
  // delete), without one: its AgentIdentity left behind makes every later file's agent
  // ambiguous.
  afterEach(async function () {
    if (components && !components.webhook.alive) {
      components.webhook = components.webhook.again();
      await webhookReady(components.webhook);
    }
  });

  after(async function () {
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await stopAgentgate(components);
  });

  async function events(selector: string, fields: string): Promise<AuditEvent[]> {
    const out = await kubectlOk('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE, '-l', selector, '--field-selector', fields, '-o', 'json']);
    return (JSON.parse(out) as { items: AuditEvent[] }).items;
  }

  it('serves kubectl get (table, -o wide, -l), get by name and explain through the kube-apiserver', async function () {
    expect((await kubectl('agent', ['create', 'configmap', 'listed', '-n', ns, '--from-literal=a=b'])).code).to.equal(0);
    const e = await eventually(async () => (await events(`agentgate.io/agent=${agent}`, `spec.namespace=${ns},spec.name=listed`))[0], 20_000, 'the record');
    expect(e.apiVersion).to.equal('audit.agentgate.io/v1alpha1');
    const table = await kubectlOk('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE, '-l', `agentgate.io/agent=${agent}`]);
    expect(table.split('\n')[0]).to.match(/^NAME\s+AGENT\s+DECISION\s+OPERATION\s+RESOURCE\s+TARGET-NS\s+TARGET\s+OUTCOME\s+AGE/);
    expect(table).to.contain(e.metadata.name!);
    const wide = await kubectlOk('admin', ['get', 'auditevent', e.metadata.name!, '-n', AGENTGATE_NAMESPACE, '-o', 'wide']);
    expect(wide.split('\n')[0]).to.contain('REASON').and.contain('CODE');
    const explain = await kubectlOk('admin', ['explain', 'auditevents.spec.decision']);
    expect(explain).to.contain('Allowed, Held (waiting for approval) or Denied');
    // Not in etcd: the agentgate.io CRD is gone, the group is the aggregated one.
    expect((await kubectl('admin', ['get', 'crd', 'auditevents.agentgate.io'])).code).to.not.equal(0);
  });

  it('is discovered like a built-in: kind AuditEvent with short names and the agentgate category', async function () {
    const resources = await kubectlOk('admin', ['api-resources', '--api-group', 'audit.agentgate.io', '-o', 'wide']);
    const row = resources.split('\n').find((l) => /\sAuditEvent\s/.test(l));
    expect(row, resources)
      .to.match(/\bae,audit\b/)
      .and.match(/\bagentgate\s*$/);
    const all = await kubectl('admin', ['get', 'agentgate', '-n', AGENTGATE_NAMESPACE]);
    expect(all.code, all.stderr).to.equal(0);
    expect(all.stdout).to.contain('auditevent.audit.agentgate.io/');
  });

  it("settles an admitted mutation as Completed with the apiserver's status code", async function () {
    expect((await kubectl('agent', ['create', 'configmap', 'settled', '-n', ns, '--from-literal=a=b'])).code).to.equal(0);
    const e = await eventually(
      async () => (await events(`agentgate.io/agent=${agent},agentgate.io/outcome=Completed`, `spec.namespace=${ns},spec.name=settled`))[0],
      30_000,
      'the record Completed',
    );
    expect(e.status).to.include({ outcome: 'Completed', code: 201, source: 'admission' });
  });

  it("records the agent's reads and the calls RBAC refused, with their status codes", async function () {
    expect((await kubectl('agent', ['get', 'configmaps', '-n', ns])).code).to.equal(0);
    const forbidden = await kubectl('agent', ['get', 'secrets', '-n', 'kube-system']);
    expect(forbidden.code).to.not.equal(0);
    const read = await eventually(
      async () => (await events('agentgate.io/source=apiserver', `spec.namespace=${ns},spec.operation=LIST`))[0],
      30_000,
      'the LIST recorded',
    );
    expect(read.spec).to.include({ user: AGENT_USER, decision: 'Allowed', resource: 'configmaps' });
    expect(read.status).to.include({ outcome: 'Recorded', code: 200 });
    const denied = await eventually(
      async () => (await events('agentgate.io/source=apiserver,agentgate.io/decision=Denied', 'spec.namespace=kube-system,spec.resource=secrets'))[0],
      30_000,
      'the 403 recorded',
    );
    expect(denied.status?.code).to.equal(403);
    expect(denied.spec.reason).to.contain('refused by the apiserver (403');
  });

  it('the whole record verifies, chains and checkpoints', async function () {
    await eventually(
      async () => (await kubectl('admin', ['get', 'configmap', 'agentgate-audit-checkpoints', '-n', AGENTGATE_NAMESPACE])).code === 0,
      20_000,
      'a checkpoint',
    );
    const r = await run(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), '--kubeconfig', clusterEnv().kubeconfigs.admin, 'audit', 'verify']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.contain('checkpoints in etcd compared with the store');
  });

  it('a retired writer (WRITER-DELETED) acknowledged with a reason verifies as ACKNOWLEDGED; a writer with events cannot be', async function () {
    const cli = (...args: string[]) =>
      run(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), '--kubeconfig', clusterEnv().kubeconfigs.admin, ...args]);
    // The checkpoint another store left behind (a reused cluster): signed with the real key, no events.
    const secret = JSON.parse(await kubectlOk('admin', ['get', 'secret', KEY_SECRET, '-n', AGENTGATE_NAMESPACE, '-o', 'json'])) as {
      data: Record<string, string>;
    };
    const key = checkpointKey(Buffer.from(secret.data[FINGERPRINT_KEY]!, 'base64').toString('utf8'));
    const writer = uniqueName('retired');
    const cp = signCheckpoint({ writer, sequence: 42, hash: 'a'.repeat(64) }, new Date(), key);
    const patch = (data: Record<string, string | null>) =>
      kubectlOk('admin', ['patch', 'configmap', CHECKPOINT_CONFIGMAP, '-n', AGENTGATE_NAMESPACE, '--type', 'merge', '-p', JSON.stringify({ data })]);
    await patch({ [writer]: JSON.stringify(cp) });
    try {
      const before = await cli('audit', 'verify');
      expect(before.code, before.stdout).to.equal(1);
      expect(before.stdout).to.contain(`WRITER-DELETED: writer ${writer}`).and.contain(`agentgate audit acknowledge --writer ${writer} --reason`);

      const reason = 'e2e: the store of a previous install';
      const ack = await cli('audit', 'acknowledge', '--writer', writer, '--reason', reason);
      expect(ack.code, ack.stdout + ack.stderr).to.equal(0);
      const after = await cli('audit', 'verify');
      expect(after.code, after.stdout).to.equal(0);
      expect(after.stdout)
        .to.contain('1 retired writer(s) acknowledged')
        .and.match(new RegExp(`ACKNOWLEDGED: writer ${writer}: .* acknowledged as retired by \\S+ at \\S+: ${reason}`));

      // The live writer has events once an agent call is answered (recorded before the answer).
      await kubectlOk('agent', ['create', 'configmap', uniqueName('ack'), '-n', ns, '--from-literal=a=b']);
      const live = await cli('audit', 'acknowledge', '--writer', components!.webhook.name, '--reason', 'not retired');
      expect(live.code).to.equal(1);
      expect(live.stderr).to.contain('the store still holds events of this writer, so it is not retired');
    } finally {
      await patch({ [writer]: null, [acknowledgementKey(writer)]: null });
    }
  });

  it('believes X-Remote-User only from the front proxy: a forged header sent straight to the server is refused', async function () {
    const port = Number(readRunEnv('controlplane').AUDIT_PORT);
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: `/apis/audit.agentgate.io/v1alpha1/namespaces/${AGENTGATE_NAMESPACE}/auditevents`,
          headers: { 'X-Remote-User': 'kubernetes-admin', 'X-Remote-Group': 'system:masters' },
          rejectUnauthorized: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).to.equal(401);
    // And through the apiserver, RBAC decides: mallory has no read on audit records.
    const m = await kubectl('mallory', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE]);
    expect(m.code).to.not.equal(0);
    expect(m.stderr).to.contain('forbidden');
  });

  it('database down: agent mutations are refused saying why; everyone else is unaffected', async function () {
    if (!postgresDsn()) this.skip(); // needs the PostgreSQL of hack/postgres to stop and start
    const ctl = path.join(repoRoot, 'hack', 'postgres', 'ctl.sh');
    await run(ctl, ['stop']);
    try {
      const r = await kubectl('agent', ['create', 'configmap', 'no-record', '-n', ns, '--from-literal=a=b']);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('the audit database is unavailable').and.contain('no agent call goes through unrecorded');
      expect((await kubectl('admin', ['get', 'configmap', 'no-record', '-n', ns])).code).to.not.equal(0);
      const human = await kubectl('admin', ['create', 'configmap', 'human-write', '-n', ns, '--from-literal=a=b']);
      expect(human.code, human.stderr).to.equal(0);
    } finally {
      await run(ctl, ['start']);
    }
    await eventually(
      async () => (await kubectl('agent', ['create', 'configmap', 'after-restart', '-n', ns, '--from-literal=a=b'])).code === 0,
      30_000,
      'agent calls to go through again',
    );
  });

  it('SIGTERM: a watch through the kube-apiserver ends with a complete response, nothing in flight is cut, and the last checkpoint anchors the head the next start resumes', async function () {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(clusterEnv().kubeconfigs.admin);
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const server = new URL(kc.getCurrentCluster()!.server);
    let streamed = '';
    const ended = new Promise<{ complete: boolean }>((resolve, reject) => {
      https
        .get(
          {
            ...opts,
            host: server.hostname,
            port: server.port,
            path: `/apis/audit.agentgate.io/v1alpha1/namespaces/${AGENTGATE_NAMESPACE}/auditevents?watch=true&labelSelector=agentgate.io%2Fagent%3D${agent}`,
          },
          (res) => {
            res.on('data', (d: Buffer) => (streamed += d.toString()));
            res.on('end', () => resolve({ complete: res.complete }));
            res.on('error', reject);
          },
        )
        .on('error', reject);
    });
    // The watch is live once it carries a record made after it started.
    const marker = `watched-${Date.now()}`;
    await kubectlOk('agent', ['create', 'configmap', marker, '-n', ns, '--from-literal=a=b']);
    await eventually(async () => streamed.includes(`"name":"${marker}"`), 30_000, 'the watch to stream the new record');

    await components!.webhook.stop('SIGTERM', 60_000);
    expect(await ended, 'the watch ended by the drain').to.deep.equal({ complete: true });
    const exitLog = components!.webhook
      .log()
      .split('\n')
      .filter((l) => l.includes('"drained; exiting"'))
      .at(-1);
    expect(JSON.parse(exitLog ?? '{}').auditApi, exitLog).to.include({ cut: 0 });
    const writer = `${components!.webhook.name}`;
    const cm = JSON.parse(await kubectlOk('admin', ['get', 'configmap', CHECKPOINT_CONFIGMAP, '-n', AGENTGATE_NAMESPACE, '-o', 'json'])) as {
      data: Record<string, string>;
    };
    const anchored = (JSON.parse(cm.data[writer]!) as { sequence: number }).sequence;

    components!.webhook = components!.webhook.again();
    await webhookReady(components!.webhook);
    const resumed = components!.webhook
      .log()
      .split('\n')
      .filter((l) => l.includes('"caches synced and audit chain resumed"'))
      .at(-1);
    expect(JSON.parse(resumed ?? '{}'), resumed).to.include({ writer, sequence: anchored });
    await auditApiAvailable();
  });

  it('webhook SIGKILLed and the database restarted under agent load: every object the agent created has its record, no record of a call that did not complete says Completed, and the record verifies', async function () {
    if (!postgresDsn()) this.skip(); // needs the PostgreSQL of hack/postgres to stop and start
    const ctl = path.join(repoRoot, 'hack', 'postgres', 'ctl.sh');
    let created = 0;
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const r = await kubectl('agent', ['create', 'configmap', `load-${w}-${i}`, '-n', ns, '--from-literal=a=b']);
        if (r.code === 0) created++;
      }
    };
    const workers = [0, 1, 2, 3].map((w) => worker(w));
    try {
      await eventually(async () => created >= 12, 120_000, 'agent calls under way');
      await components!.webhook.stop('SIGKILL');
      await run(ctl, ['stop']);
      await run(ctl, ['start']);
      components!.webhook = components!.webhook.again();
      await webhookReady(components!.webhook);
      const before = created;
      await eventually(async () => created >= before + 12, 120_000, 'agent calls going through again');
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const objects = new Set(
      (JSON.parse(await kubectlOk('admin', ['get', 'configmaps', '-n', ns, '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> }).items
        .map((c) => c.metadata.name)
        .filter((n) => n.startsWith('load-')),
    );
    expect(objects.size).to.be.at.least(24);
    // Admission answers again before the apiserver's probe marks the restarted audit API
    // Available (a race a faster webhook lost): reads wait for it, records were committed.
    await auditApiAvailable();
    // Committed before the answer: no object without its Allowed record, at once.
    const allowed = (await events(`agentgate.io/agent=${agent},agentgate.io/decision=Allowed`, `spec.namespace=${ns},spec.operation=CREATE`)).filter((e) =>
      e.spec.name?.startsWith('load-'),
    );
    const recorded = new Set(allowed.map((e) => e.spec.name));
    expect(
      [...objects].filter((n) => !recorded.has(n)),
      'objects without a record',
    ).to.deep.equal([]);
    // Admitted is not completed: a record whose object never appeared must not claim it did.
    const notDone = allowed.filter((e) => !objects.has(e.spec.name!));
    expect(
      notDone.filter((e) => e.status?.outcome === 'Completed').map((e) => e.metadata.name),
      'Completed without an object',
    ).to.deep.equal([]);
    const r = await run(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), '--kubeconfig', clusterEnv().kubeconfigs.admin, 'audit', 'verify']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.contain('audit chain intact');
  });
});

describe('audit: an unavailable audit API does not keep namespaces Terminating', function () {
  const ns = uniqueName('audit-withdrawn');
  const grace = '3s';
  let components: { webhook: RunningComponent; operator: RunningComponent } | undefined;

  before(async function () {
    if (!clusterEnv().local) this.skip(); // the aggregated API is wired by hack/controlplane/up.sh
    this.timeout(300_000);
    components = await startAgentgate({ name: 'audit-withdrawn', operatorArgs: ['--audit-apiservice-grace', grace] });
    await auditApiAvailable(180_000);
  });

  after(async function () {
    await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await stopAgentgate(components);
  });

  it("lets the operator's ServiceAccount create no APIService but the audit API's, routed to its own namespace (RBAC cannot pin create to a name; the policy does)", async function () {
    const asOperator = ['--as', `system:serviceaccount:${AGENTGATE_NAMESPACE}:agentgate-operator`];
    const apiService = (name: string, group: string, serviceNamespace: string) =>
      JSON.stringify({
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name },
        spec: {
          group,
          version: name.split('.')[0],
          service: { name: AUDIT_SERVICE, namespace: serviceNamespace, port: 443 },
          groupPriorityMinimum: 1000,
          versionPriority: 15,
        },
      });
    for (const [what, body] of [
      ['another group', apiService('v1.probe.example.io', 'probe.example.io', AGENTGATE_NAMESPACE)],
      ['the audit group routed elsewhere', apiService(AUDIT_APISERVICE, AUDIT_GROUP, 'default')],
    ] as const) {
      const r = await kubectl('admin', ['create', '-f', '-', ...asOperator], body);
      expect(r.code, `${what}: ${r.stdout}`).to.not.equal(0);
      expect(r.stderr, what).to.contain('agentgate-audit-apiservice-only');
    }
  });

  const apiServiceExists = async (): Promise<boolean> => (await kubectl('admin', ['get', 'apiservice', AUDIT_APISERVICE])).code === 0;

  it('with no webhook the operator withdraws the APIService after the grace and a namespace with content finishes deleting; a webhook back restores it', async function () {
    this.timeout(600_000);
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await kubectlOk('admin', ['create', 'configmap', 'content', '-n', ns, '--from-literal=a=b']);
    await components!.webhook.stop('SIGTERM', 60_000);
    await kubectlOk('admin', ['delete', 'namespace', ns, '--wait=false']);
    // The apiserver's availability check notices the dead server, then the grace runs out.
    // (Its discovery cache may let this namespace go before that; one deleted later would wait.)
    await eventually(async () => !(await apiServiceExists()), 240_000, `APIService ${AUDIT_APISERVICE} withdrawn`);
    await eventually(async () => (await kubectl('admin', ['get', 'namespace', ns])).code !== 0, 240_000, `namespace ${ns} to finish deleting`);
    const withdrawn = components!.operator
      .log()
      .split('\n')
      .find((l) => l.includes('"audit APIService withdrawn"'));
    expect(withdrawn, 'the operator says what it did and why').to.contain('AuditAPIWithdrawn').and.contain('namespaces can finish deleting');
    const events = await kubectlOk('admin', [
      'get',
      'events',
      '-n',
      'default',
      '--field-selector',
      `involvedObject.name=${AUDIT_APISERVICE},reason=AuditAPIWithdrawn`,
      '-o',
      'name',
    ]);
    expect(events.trim(), 'a Warning Event on the APIService').to.not.equal('');
    const unknown = await kubectl('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE]);
    expect(unknown.code).to.not.equal(0);
    // Which of the two depends on whether kubectl's discovery cache still lists the resource.
    expect(unknown.stderr).to.match(/the server doesn't have a resource type "auditevents"|the server could not find the requested resource/);

    components!.webhook = components!.webhook.again();
    await webhookReady(components!.webhook);
    await auditApiAvailable(180_000);
    expect(components!.operator.log()).to.contain('"audit APIService restored"');
    const served = await kubectl('admin', ['get', 'auditevents', '-n', AGENTGATE_NAMESPACE, '-o', 'name']);
    expect(served.code, served.stderr).to.equal(0);
  });
});
