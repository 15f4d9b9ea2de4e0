// The webhook's certificates and rollouts under agents' load, through the real apiserver:
// a certificate renewed while running, cert-manager mode (a kubernetes.io/tls Secret that
// agentgate never writes, caBundle owned by cainjector), and a rolling restart of two
// replicas. Every agent call in flight must succeed.
//
// The apiserver reaches the replicas the way it reaches a Service: through a small TCP
// balancer standing in for kube-proxy (new connections go to ready, non-terminating
// backends; established connections stay where they are), and the test plays the kubelet
// (remove the endpoint, wait out the preStop sleep, then SIGTERM).
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { withKeepAlive } from '../lib/kube.js';
import { render } from '../packaging/helm.js';
import { generateTls, KEY_SECRET, splitPem, TLS_SECRET } from '../webhook/tls.js';
import { APISERVER_IDLE_CONNECTION_MS } from '../webhook/drain.js';
import { clusterEnv, eventually, kubectl, kubectlOk, uniqueName } from '../harness/cluster.js';
import { componentKubeconfig, freePort, installBase, removeWebhookConfigurations, runDir, startProcess, type RunningComponent } from '../harness/components.js';
import { AGENTGATE_NAMESPACE, WEBHOOK_CONFIGURATIONS } from '../api/types.js';
import { agentIdentity, asNew } from '../testing/fixtures.js';

const AGENT_USER = 'agent:deploy-bot';

/** Agents' calls through the apiserver (and so through the webhook), `concurrency` at a time, until stopped. */
class AgentLoad {
  ok = 0;
  failures: string[] = [];
  private running = true;
  private workers: Promise<void>[] = [];
  constructor(namespace: string, concurrency = 4) {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(clusterEnv().kubeconfigs.agent);
    const core = withKeepAlive(kc).makeApiClient(k8s.CoreV1Api);
    let n = 0;
    const prefix = uniqueName('load');
    for (let w = 0; w < concurrency; w++) {
      this.workers.push(
        (async () => {
          while (this.running) {
            try {
              await core.createNamespacedConfigMap({
                namespace,
                body: { metadata: { name: `${prefix}-${w}-${n++}` }, data: { at: new Date().toISOString() } },
              });
              this.ok++;
            } catch (err) {
              const e = err as { body?: string; message?: string };
              this.failures.push(String(e.body ?? e.message).slice(0, 300));
            }
          }
        })(),
      );
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }
  /** Resolves once `more` further calls have succeeded. */
  async progress(more: number): Promise<void> {
    const target = this.ok + more;
    await eventually(async () => this.ok >= target, 60_000, `${more} more agent calls`);
  }
}

/**
 * kube-proxy's part: new connections to ready, non-terminating backends, round robin;
 * established connections stay where they are. Like a DNAT'd connection it passes every
 * byte, FIN and reset through as it comes, each direction on its own (a half-closed side
 * stays open for the other's answer): it neither adds a reset nor hides one.
 */
class Balancer {
  readonly backends = new Map<number, { ready: boolean; terminating: boolean; failures: number; probing: boolean }>();
  /** What it did to connections on its own: refused (no ready endpoint), reset (the other side reset or refused). */
  readonly resets = { refused: 0, reset: 0 };
  private server = net.createServer({ allowHalfOpen: true }, (client) => this.route(client));
  private sockets = new Set<net.Socket>();
  private poll: NodeJS.Timeout | undefined;
  private next = 0;
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    // The kubelet's readiness probe and the endpoints controller: one probe at a time per
    // backend; ready on a success, out of the endpoints after 3 failures in a row (the
    // kubelet's failureThreshold), not after one slow answer on a busy host.
    this.poll = setInterval(() => {
      for (const [port, b] of this.backends) {
        if (b.probing) continue;
        b.probing = true;
        void readyz(port).then((ok) => {
          b.probing = false;
          b.failures = ok ? 0 : b.failures + 1;
          if (ok) b.ready = true;
          else if (b.failures >= 3) b.ready = false;
        });
      }
    }, 100);
  }
  add(port: number): void {
    this.backends.set(port, { ready: false, terminating: false, failures: 0, probing: false });
  }
  terminate(port: number): void {
    const b = this.backends.get(port);
    if (b) b.terminating = true;
  }
  private track(s: net.Socket): net.Socket {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    return s;
  }
  private route(client: net.Socket): void {
    this.track(client);
    const live = [...this.backends].filter(([, b]) => b.ready && !b.terminating).map(([p]) => p);
    const port = live[this.next++ % Math.max(1, live.length)];
    // No endpoint: refused, as kube-proxy's REJECT rule does.
    if (port === undefined) {
      this.resets.refused++;
      return void client.resetAndDestroy();
    }
    const upstream = this.track(net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    // pipe() ends the other side when one side ends (a FIN for a FIN); each socket closes once both directions are done.
    client.pipe(upstream);
    upstream.pipe(client);
    // A reset, or a backend that refuses, resets the other side.
    client.on('error', () => {
      this.resets.reset++;
      upstream.resetAndDestroy();
    });
    upstream.on('error', () => {
      this.resets.reset++;
      client.resetAndDestroy();
    });
  }
  /** Test teardown: stops listening and drops whatever is still connected. */
  async stop(): Promise<void> {
    clearInterval(this.poll);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      s.end('GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('close', () => resolve(data.startsWith('HTTP/1.1 200')));
    s.on('error', () => resolve(false));
    s.setTimeout(1000, () => s.destroy());
  });
}

/** The fingerprint of the certificate a webhook serves. */
function servedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

async function caBundles(): Promise<string[]> {
  const out: string[] = [];
  for (const { kind, name } of WEBHOOK_CONFIGURATIONS) {
    const c = JSON.parse(await kubectlOk('admin', ['get', kind, name, '-o', 'json']));
    for (const w of c.webhooks ?? []) out.push(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8'));
  }
  return out;
}

describe('webhook certificates and rollouts under agent load (real apiserver)', function () {
  this.timeout(600_000);
  const agent = uniqueName('tls-bot');
  const ns = uniqueName('tls');
  // What a test starts, its afterEach stops, also when the test failed: no webhook of one
  // test may serve, or rewrite the configurations, in the next.
  const started: RunningComponent[] = [];
  const loads: AgentLoad[] = [];
  const balancers: Balancer[] = [];
  let webhookKc = '';
  let operator: RunningComponent | undefined;

  function startWebhook(name: string, port: number, url: string, extra: string[] = [], drainSeconds = 2): RunningComponent {
    const w = startProcess(
      'webhook',
      name,
      ['--kubeconfig', webhookKc, '--port', String(port), '--url', url, '--writer-id', name, '--drain-seconds', String(drainSeconds), ...extra],
      port,
    );
    started.push(w);
    return w;
  }
  function agentLoad(): AgentLoad {
    const load = new AgentLoad(ns);
    loads.push(load);
    return load;
  }

  afterEach(async function () {
    for (const load of loads.splice(0)) await load.stop();
    await Promise.all(started.splice(0).map((w) => w.stop('SIGKILL')));
    for (const lb of balancers.splice(0)) await lb.stop();
    await removeWebhookConfigurations();
  });
  async function ready(w: RunningComponent): Promise<void> {
    await eventually(
      async () => {
        if (!w.alive) throw new Error(`${w.name} exited:\n${w.log().slice(-2000)}`);
        return readyz(w.port!);
      },
      180_000, // each webhook opens its own audit store (PGlite's first start is slow on a busy host)
      `${w.name} ready`,
    );
  }
  /** A configuration change reaches the apiserver through its informer: wait until agents' calls pass again. */
  async function agentCallsPass(): Promise<void> {
    await eventually(async () => (await kubectl('agent', ['create', 'configmap', uniqueName('probe'), '-n', ns])).code === 0, 60_000, 'an agent call to pass');
  }

  before(async function () {
    await removeWebhookConfigurations();
    await installBase();
    await kubectl('admin', ['delete', 'secret', TLS_SECRET, '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
    webhookKc = await componentKubeconfig('webhook');
    operator = startProcess('operator', 'tls-operator', [
      '--kubeconfig',
      await componentKubeconfig('operator'),
      '--id',
      'tls-operator',
      '--metrics-port',
      '0',
      '--lease-name',
      uniqueName('tls-lease'),
    ]);
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify(
        agentIdentity(
          agent,
          {
            subjects: [{ kind: 'User', name: AGENT_USER }],
            maxDuration: '1h',
            allowedRoles: [{ kind: 'ClusterRole', name: 'agentgate-edit' }],
            allowedNamespaces: { names: [ns] },
          },
          asNew,
        ),
      ),
    );
  });

  after(async function () {
    await operator?.stop();
    await removeWebhookConfigurations();
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'secret', TLS_SECRET, 'agentgate-webhook-certificate', '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
  });

  async function activeGrant(): Promise<void> {
    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'agentgate.io/v1alpha1',
        kind: 'AccessGrant',
        metadata: { name: 'load', namespace: ns },
        spec: { agent, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '50m', reason: 'e2e: certificates and rollouts' },
      }),
    );
    await eventually(
      async () => (await kubectlOk('admin', ['get', 'accessgrant', 'load', '-n', ns, '-o', 'jsonpath={.status.phase}'])) === 'Active',
      60_000,
      'grant Active',
    );
  }

  it('renews its certificate while running (at 2/3 of its lifetime), old and new CA in the bundle, no failed call', async function () {
    // A certificate of its own, made with this short validity.
    await kubectl('admin', ['delete', 'secret', TLS_SECRET, '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
    const port = await freePort();
    const w = startWebhook('tls-rotate', port, `https://127.0.0.1:${port}`, ['--cert-validity', '45s']);
    // Logs are appended across runs: look only at this run's lines.
    const mark = w.log().length;
    await ready(w);
    await activeGrant();
    await agentCallsPass();

    // The next renewal after this point, with the load running (a slow start, e.g. the
    // audit store's first open on a busy host, may have seen one already: renewals repeat).
    const load = agentLoad();
    const before = await servedCertificate(port);
    await eventually(async () => (await servedCertificate(port)) !== before, 90_000, 'the renewal while running');
    const bundles = await caBundles();
    await load.progress(20);
    await load.stop();

    expect(w.log().slice(mark)).to.include('serving the renewed certificate');
    for (const b of bundles) expect(splitPem(b).length, 'old and new CA during the rollover').to.be.at.least(2);
    expect(load.failures, load.failures.slice(0, 3).join('\n')).to.deep.equal([]);
    expect(load.ok).to.be.greaterThan(20);
    await w.stop();
  });

  it('rolls two replicas one by one (preStop, SIGTERM, drain) under agent load without a failed call', async function () {
    await removeWebhookConfigurations();
    await installBase();
    // A certificate of its own (the renewal test's lives 45 s): no renewal in the middle of the roll.
    await kubectl('admin', ['delete', 'secret', TLS_SECRET, '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
    const lb = new Balancer();
    balancers.push(lb);
    await lb.start();
    const url = `https://127.0.0.1:${lb.port}`;
    // The chart's drain: it outlasts the apiserver's idle keep-alive connections, so the
    // webhook never closes one the apiserver may reuse (webhook/drain.ts).
    const drainSeconds = APISERVER_IDLE_CONNECTION_MS / 1000 + 5;
    const marks = new Map<RunningComponent, number>();
    const replica = async (name: string) => {
      const w = startWebhook(name, await freePort(), url, [], drainSeconds);
      marks.set(w, w.log().length); // logs are appended across runs
      lb.add(w.port!);
      await ready(w);
      await eventually(async () => lb.backends.get(w.port!)?.ready, 10_000, `${name} in the endpoints`);
      return w;
    };
    const a = await replica('tls-roll-a');
    const b = await replica('tls-roll-b');
    await activeGrant();
    await agentCallsPass();

    const load = agentLoad();
    await load.progress(10);
    const preStopMs = 2000;
    const stopping: Promise<void>[] = [];
    for (const [old, name] of [
      [a, 'tls-roll-c'],
      [b, 'tls-roll-d'],
    ] as const) {
      await replica(name); // maxSurge 1: the new pod is ready before an old one goes
      lb.terminate(old.port!); // out of the endpoints; its established connections stay
      await new Promise((r) => setTimeout(r, preStopMs)); // the preStop sleep
      // The kubelet: SIGTERM, SIGKILL after the grace period. The rollout goes on meanwhile.
      stopping.push(old.stop('SIGTERM', (drainSeconds + 30) * 1000));
      await eventually(async () => old.log().slice(marks.get(old)).includes('"draining"'), 30_000, `${old.name} draining`);
      await load.progress(10);
    }
    // Each drain ends once the apiserver has closed its connections to that replica, the
    // idle ones at its keep-alive timeout; agents' calls go on all the while.
    await Promise.all(stopping);
    await load.progress(10);
    await load.stop();
    expect(load.failures, `${load.failures.slice(0, 3).join('\n')}\nbalancer: ${JSON.stringify(lb.resets)}`).to.deep.equal([]);
    expect(load.ok).to.be.greaterThan(30);
    for (const old of [a, b]) {
      const lines = old
        .log()
        .slice(marks.get(old))
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const drained = lines.find((l) => l['message'] === 'drained; exiting');
      expect(drained, `${old.name}: every connection closed by the apiserver or by an answer, none by the webhook`).to.include({
        endedBy: 'clients',
        closedAtBound: 0,
        cut: 0,
      });
    }
  });

  it('cert-manager mode: serves the mounted kubernetes.io/tls certificate, never writes that Secret, leaves caBundle to cainjector', async function () {
    await removeWebhookConfigurations();
    await installBase();
    // The configurations as the chart renders them in cert-manager mode (with cainjector's annotation).
    const configs = render(AGENTGATE_NAMESPACE, ['--set', 'tls.mode=certManager', '--set', 'tls.certManager.issuerRef.name=e2e-issuer']).filter((d) =>
      /WebhookConfiguration$/.test(d.kind),
    );
    expect(configs).to.have.length(3);
    await kubectlOk(
      'admin',
      ['apply', '--server-side', '--force-conflicts', '--field-manager', 'helm-e2e', '-f', '-'],
      configs.map((d) => yaml.dump(d)).join('---\n'),
    );

    // What cert-manager's issuer would write: a kubernetes.io/tls Secret, mounted into the pod.
    const port = await freePort();
    const issued = generateTls(['127.0.0.1', 'localhost']);
    await kubectlOk(
      'admin',
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: 'agentgate-webhook-certificate', namespace: AGENTGATE_NAMESPACE },
        data: {
          'tls.crt': Buffer.from(issued.cert).toString('base64'),
          'tls.key': Buffer.from(issued.key).toString('base64'),
          'ca.crt': Buffer.from(issued.ca).toString('base64'),
        },
      }),
    );
    const secretBefore = JSON.parse(await kubectlOk('admin', ['get', 'secret', 'agentgate-webhook-certificate', '-n', AGENTGATE_NAMESPACE, '-o', 'json']));
    const mount = (f: string, s: string) => {
      const file = path.join(runDir, `cm-${f}`);
      writeFileSync(file, s, { mode: 0o600 });
      return file;
    };
    const w = startWebhook('tls-cert-manager', port, `https://127.0.0.1:${port}`, [
      '--tls-cert',
      mount('tls.crt', issued.cert),
      '--tls-key',
      mount('tls.key', issued.key),
    ]);
    await ready(w);

    // cainjector: inject the CA into every webhook the webhook process wrote.
    const caB64 = Buffer.from(issued.ca).toString('base64');
    for (const { kind, name } of WEBHOOK_CONFIGURATIONS) {
      const c = JSON.parse(await kubectlOk('admin', ['get', kind, name, '-o', 'json']));
      expect(c.metadata.annotations['cert-manager.io/inject-ca-from']).to.equal(`${AGENTGATE_NAMESPACE}/agentgate-webhook`);
      expect(
        c.webhooks.every((x: any) => !x.clientConfig.caBundle),
        'the webhook writes no caBundle itself',
      ).to.equal(true);
      const patch = c.webhooks.map((_: unknown, i: number) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caB64 }));
      await kubectlOk('admin', ['patch', kind, name, '--type=json', '-p', JSON.stringify(patch)]);
    }
    await activeGrant();
    await agentCallsPass();
    expect(await servedCertificate(port)).to.equal(new (await import('node:crypto')).X509Certificate(issued.cert).fingerprint256);

    // A change that makes the webhook rewrite its configurations keeps cainjector's bundle.
    await kubectlOk('admin', [
      'patch',
      'agentidentity',
      agent,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          subjects: [
            { kind: 'User', name: AGENT_USER },
            { kind: 'User', name: 'agent:cert-manager-probe' },
          ],
        },
      }),
    ]);
    await eventually(
      async () => (await kubectlOk('admin', ['get', 'validatingwebhookconfiguration', 'agentgate-agents', '-o', 'json'])).includes('agent:cert-manager-probe'),
      30_000,
      'the webhook to rewrite agentgate-agents',
    );
    for (const b of await caBundles()) expect(b).to.equal(issued.ca);
    await agentCallsPass();

    const secretAfter = JSON.parse(await kubectlOk('admin', ['get', 'secret', 'agentgate-webhook-certificate', '-n', AGENTGATE_NAMESPACE, '-o', 'json']));
    expect(secretAfter.type).to.equal('kubernetes.io/tls');
    expect(secretAfter.metadata.resourceVersion, "cert-manager's Secret untouched").to.equal(secretBefore.metadata.resourceVersion);
    const key = JSON.parse(await kubectlOk('admin', ['get', 'secret', KEY_SECRET, '-n', AGENTGATE_NAMESPACE, '-o', 'json']));
    expect(key.type).to.equal('Opaque');
    expect(Object.keys(key.data)).to.include('fingerprint.key');
    await w.stop();
  });
});
