// Boundary verification against a real apiserver: each bypass route of the catalogue is
// planted by the admin, reported by `agentgate verify` (the real CLI, as a process), and
// reported clean again once removed.
//
// The agents' webhook configuration is created here in the contract's shape (unless one
// exists, which is saved and restored), pointing at a small HTTPS server in this process
// that answers /healthz and allows every AdmissionReview, so the baseline is fully clean
// including the CA bundle and the reachability probe.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { BoundaryReport, Finding } from '../boundary/types.js';
import { applyJson, clusterEnv, eventually, kubectl, kubectlOk, repoRoot, run, uniqueName } from '../harness/cluster.js';
import { ensureCrds } from '../harness/crds.js';
import { agentIdentity, asNew } from '../testing/fixtures.js';

const AGENT_USER = 'agent:deploy-bot';
const AGENT_GROUP = 'agentgate:agents';
const CLI = path.join(repoRoot, 'dist', 'cli', 'main.js');

interface Verify {
  code: number;
  report: BoundaryReport;
  findings: Finding[];
  stderr: string;
}

async function verify(agent: string, ...extra: string[]): Promise<Verify> {
  const r = await run(process.execPath, [CLI, '--kubeconfig', clusterEnv().kubeconfigs.admin, 'verify', agent, '-o', 'json', ...extra]);
  let report: BoundaryReport;
  try {
    report = JSON.parse(r.stdout) as BoundaryReport;
  } catch {
    throw new Error(`agentgate verify printed no JSON (exit ${r.code}): ${r.stderr || r.stdout}`);
  }
  const findings = report.agents.find((a) => a.agent === agent)?.findings ?? [];
  return { code: r.code, report, findings, stderr: r.stderr };
}

function describeFindings(f: Finding[]): string {
  return f.map((x) => `${x.severity} ${x.route} ${x.object ?? ''}: ${x.message}`).join('\n') || '(none)';
}

const apply = (doc: unknown) => applyJson(doc, 'boundary-e2e');

// A self-signed serving certificate for 127.0.0.1 (it is its own CA).
function servingCert(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentgate-boundary-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=agentgate-e2e-webhook',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function startFakeWebhook(tls: { key: string; cert: string }): Promise<https.Server> {
  const server = https.createServer(tls, (req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      let uid = '';
      try {
        uid = (JSON.parse(body) as { request?: { uid?: string } }).request?.uid ?? '';
      } catch {
        /* not a review */
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const AGENTS_CONDITION = {
  name: 'agents',
  expression: `request.userInfo.username in ['${AGENT_USER}'] || request.userInfo.groups.exists(g, g in ['${AGENT_GROUP}'])`,
};
const NOT_AGENTGATE = {
  name: 'not-agentgate',
  expression:
    "!(request.userInfo.username in ['system:serviceaccount:agentgate-system:agentgate-operator', 'system:serviceaccount:agentgate-system:agentgate-webhook'])",
};

type Json = Record<string, unknown>;

function agentsWebhook(url: string, caBundle: string, override: (w: Json) => void = () => {}): Json {
  const webhook: Json = {
    name: 'agents.agentgate.io',
    admissionReviewVersions: ['v1'],
    clientConfig: { url: `${url}/validate/agents`, caBundle },
    failurePolicy: 'Fail',
    sideEffects: 'NoneOnDryRun',
    timeoutSeconds: 5,
    matchPolicy: 'Equivalent',
    rules: [{ operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], scope: '*' }],
    matchConditions: [AGENTS_CONDITION, NOT_AGENTGATE],
    namespaceSelector: {},
    objectSelector: {},
  };
  override(webhook);
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'agentgate-agents', labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/e2e': 'boundary' } },
    webhooks: [webhook],
  };
}

function protectWebhook(url: string, caBundle: string): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'agentgate-protect', labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/e2e': 'boundary' } },
    webhooks: [
      {
        name: 'protect.agentgate.io',
        admissionReviewVersions: ['v1'],
        clientConfig: { url: `${url}/validate/protect`, caBundle },
        failurePolicy: 'Fail',
        sideEffects: 'NoneOnDryRun',
        timeoutSeconds: 5,
        rules: [{ operations: ['UPDATE'], apiGroups: ['agentgate.io'], apiVersions: ['*'], resources: ['approvalrequests'] }],
      },
    ],
  };
}

describe('boundary verification: the bypass catalogue on a real apiserver', function () {
  const agent = uniqueName('bnd-bot');
  let ns = '';
  let server: https.Server;
  let url = '';
  let caBundle = '';
  const saved: Record<string, string | undefined> = {};
  let baseline: Json;

  before(async function () {
    await ensureCrds();
    const tls = servingCert();
    caBundle = Buffer.from(tls.cert).toString('base64');
    server = await startFakeWebhook(tls);
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await kubectlOk('admin', ['create', 'namespace', 'agentgate-system', '--dry-run=client', '-o', 'yaml']).then((y) =>
      kubectlOk('admin', ['apply', '-f', '-'], y),
    );
    // Keep a teammate's real configuration, if one is installed, and put it back after.
    for (const name of ['agentgate-agents', 'agentgate-protect']) {
      const r = await kubectl('admin', ['get', 'validatingwebhookconfiguration', name, '-o', 'json']);
      saved[name] = r.code === 0 ? r.stdout : undefined;
    }
    baseline = agentsWebhook(url, caBundle);
    await apply(baseline);
    await apply(protectWebhook(url, caBundle));
    await apply(
      agentIdentity(
        agent,
        {
          subjects: [
            { kind: 'User', name: AGENT_USER },
            { kind: 'Group', name: AGENT_GROUP },
          ],
          maxDuration: '1h',
          allowedRoles: [
            { kind: 'ClusterRole', name: 'agentgate-edit' },
            { kind: 'ClusterRole', name: agent },
          ],
          allowedNamespaces: { selector: { matchLabels: { 'agentgate.io/e2e-boundary': agent } } },
        },
        asNew,
      ),
    );
    // The role the simulated grant binds: workloads only, none of `edit`'s impersonation.
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: agent },
      rules: [{ apiGroups: ['', 'apps'], resources: ['pods', 'deployments', 'configmaps'], verbs: ['get', 'list', 'create', 'update', 'patch'] }],
    });
  });

  after(async function () {
    await kubectl('admin', ['delete', 'agentidentity', agent, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'clusterrole', agent, '--ignore-not-found']);
    for (const name of ['agentgate-agents', 'agentgate-protect']) {
      await kubectl('admin', ['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']);
      const prior = saved[name];
      if (prior) {
        const obj = JSON.parse(prior) as { metadata: Record<string, unknown> };
        for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields']) delete obj.metadata[k];
        await kubectl('admin', ['create', '-f', '-'], JSON.stringify(obj));
      }
    }
    await new Promise<void>((r) => server?.close(() => r()) ?? r());
  });

  beforeEach(async function () {
    ns = uniqueName('bnd');
    await kubectlOk('admin', ['create', 'namespace', ns]);
    await kubectlOk('admin', ['label', 'namespace', ns, `agentgate.io/e2e-boundary=${agent}`]);
  });

  afterEach(async function () {
    await apply(baseline);
    await kubectl('admin', ['delete', 'namespace', ns, '--wait=false']);
  });

  /** Plants a route, expects it reported as a Critical (exit 1), removes it, expects a clean report again. */
  async function route(
    plant: () => Promise<unknown>,
    expected: { route: string; object?: string | RegExp; severity?: 'Critical' | 'Warning' },
    remove: () => Promise<unknown>,
  ): Promise<Finding> {
    await plant();
    const severity = expected.severity ?? 'Critical';
    // RBAC and webhook changes reach the apiserver's caches a moment after the write.
    const bad = await eventually(
      async () => {
        const v = await verify(agent);
        const hit = v.findings.find(
          (f) =>
            f.route === expected.route &&
            f.severity === severity &&
            (expected.object === undefined || (typeof expected.object === 'string' ? f.object === expected.object : expected.object.test(f.object ?? ''))),
        );
        if (!hit) throw new Error(`not reported yet; findings:\n${describeFindings(v.findings)}`);
        return { v, hit };
      },
      30_000,
      `${expected.route} to be reported`,
    );
    expect(bad.v.code, `exit code with a ${severity} finding`).to.equal(severity === 'Critical' ? 1 : 0);
    expect(bad.hit.fix).to.be.a('string').and.not.equal('');
    await remove();
    await eventually(
      async () => {
        const v = await verify(agent);
        if (v.code !== 0 || v.findings.length) throw new Error(`still reported (exit ${v.code}):\n${describeFindings(v.findings)}`);
        return true;
      },
      30_000,
      `a clean report after removing ${expected.route}`,
    );
    return bad.hit;
  }

  it('reports a clean boundary for the baseline: no finding (none missing a review), backed by over 50 SubjectAccessReviews, and the CLI agrees', async function () {
    const v = await verify(agent);
    expect(v.findings, describeFindings(v.findings)).to.deep.equal([]);
    expect(v.code).to.equal(0);
    expect(v.report.agents[0]!.verified).to.equal(true);
    expect(v.report.agents[0]!.reviews).to.be.greaterThan(50);
    const text = await run(process.execPath, [CLI, '--kubeconfig', clusterEnv().kubeconfigs.admin, 'verify', agent]);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.contain(`agent ${agent}: boundary verified, no findings`);
  });

  describe('bindings outside a grant', function () {
    it("a standing ClusterRoleBinding to the agent's user", async function () {
      const crb = uniqueName('bnd-standing');
      const hit = await route(
        () => kubectlOk('admin', ['create', 'clusterrolebinding', crb, '--clusterrole', 'view', '--user', AGENT_USER]),
        { route: 'StandingBinding', object: `ClusterRoleBinding/${crb}` },
        () => kubectlOk('admin', ['delete', 'clusterrolebinding', crb]),
      );
      expect(hit.fix).to.contain(`kubectl delete clusterrolebinding ${crb}`);
      expect(hit.message).to.contain(`User ${AGENT_USER}`);
    });

    it('a RoleBinding outside any grant', async function () {
      await route(
        () => kubectlOk('admin', ['create', 'rolebinding', 'manual', '-n', ns, '--clusterrole', 'view', '--user', AGENT_USER]),
        { route: 'StandingBinding', object: `RoleBinding/${ns}/manual` },
        () => kubectlOk('admin', ['delete', 'rolebinding', 'manual', '-n', ns]),
      );
    });

    it("a RoleBinding to the agent's group", async function () {
      const hit = await route(
        () => kubectlOk('admin', ['create', 'rolebinding', 'to-group', '-n', ns, '--clusterrole', 'view', '--group', AGENT_GROUP]),
        { route: 'StandingBinding', object: `RoleBinding/${ns}/to-group` },
        () => kubectlOk('admin', ['delete', 'rolebinding', 'to-group', '-n', ns]),
      );
      expect(hit.message).to.contain(`Group ${AGENT_GROUP}`);
    });

    it('a RoleBinding that only looks like agentgate made it (labels, no owner)', async function () {
      await route(
        () =>
          apply({
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: {
              name: 'forged',
              namespace: ns,
              labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/grant': 'nope', 'agentgate.io/agent': agent },
            },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: AGENT_USER }],
          }),
        { route: 'StandingBinding', object: `RoleBinding/${ns}/forged` },
        () => kubectlOk('admin', ['delete', 'rolebinding', 'forged', '-n', ns]),
      );
    });

    it("a grant's RoleBinding that outlives the grant's window; and pod creation next to a powerful ServiceAccount", async function () {
      // What the operator would make for an Active grant, made here by the admin.
      await apply({
        apiVersion: 'agentgate.io/v1alpha1',
        kind: 'AccessGrant',
        metadata: { name: 'window', namespace: ns },
        spec: { agent, roleRef: { kind: 'ClusterRole', name: agent }, duration: '30m', reason: 'boundary e2e', activation: 'Immediate' },
      });
      const uid = (await kubectlOk('admin', ['get', 'accessgrant', 'window', '-n', ns, '-o', 'jsonpath={.metadata.uid}'])).trim();
      const setStatus = (expiresAt: string) =>
        kubectlOk('admin', [
          'patch',
          'accessgrant',
          'window',
          '-n',
          ns,
          '--subresource',
          'status',
          '--type',
          'merge',
          '-p',
          JSON.stringify({
            status: { phase: 'Active', activatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), expiresAt, roleBinding: 'agentgate-window' },
          }),
        ]);
      await setStatus(new Date(Date.now() + 30 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'));
      await apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: {
          name: 'agentgate-window',
          namespace: ns,
          labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/grant': 'window', 'agentgate.io/agent': agent },
          ownerReferences: [{ apiVersion: 'agentgate.io/v1alpha1', kind: 'AccessGrant', name: 'window', uid, controller: true }],
        },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: agent },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: AGENT_USER }],
      });
      // An active grant's binding is no finding at all.
      await eventually(
        async () => {
          const v = await verify(agent);
          if (v.findings.length) throw new Error(describeFindings(v.findings));
          return true;
        },
        30_000,
        'the grant binding to be accepted',
      );

      // Indirect: a ServiceAccount with cluster-admin where the grant lets the agent create pods.
      const crb = uniqueName('bnd-powerful');
      const hit = await route(
        async () => {
          await kubectlOk('admin', ['create', 'serviceaccount', 'deployer', '-n', ns]);
          await kubectlOk('admin', ['create', 'clusterrolebinding', crb, '--clusterrole', 'cluster-admin', '--serviceaccount', `${ns}:deployer`]);
        },
        { route: 'IndirectPodCreation', object: `create pods in namespace ${ns}`, severity: 'Warning' },
        () => kubectlOk('admin', ['delete', 'clusterrolebinding', crb]),
      );
      expect(hit.message).to.contain(`ServiceAccount ${ns}/deployer`).and.contain(`ClusterRoleBinding/${crb}`);

      // The window closes but the binding stays (the operator is down, say).
      await route(
        () => setStatus('2020-01-01T00:00:00Z'),
        { route: 'StandingBinding', object: `RoleBinding/${ns}/agentgate-window` },
        () => kubectlOk('admin', ['delete', 'rolebinding', 'agentgate-window', '-n', ns]),
      );
    });
  });

  describe('escalation rights (SubjectAccessReview)', function () {
    async function withRole(kind: 'cluster' | 'namespace', rules: Json[], expected: { route: string; object: string }): Promise<Finding[]> {
      const name = uniqueName('bnd-esc');
      const roleKind = kind === 'cluster' ? 'ClusterRole' : 'Role';
      const bindingKind = kind === 'cluster' ? 'ClusterRoleBinding' : 'RoleBinding';
      const meta = kind === 'cluster' ? { name } : { name, namespace: ns };
      const all: Finding[] = [];
      await route(
        async () => {
          await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: roleKind, metadata: meta, rules });
          await apply({
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: bindingKind,
            metadata: meta,
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: AGENT_USER }],
          });
          all.push(...(await verify(agent)).findings);
        },
        { route: expected.route, object: expected.object },
        async () => {
          const nsArgs = kind === 'cluster' ? [] : ['-n', ns];
          await kubectlOk('admin', ['delete', bindingKind.toLowerCase(), name, ...nsArgs]);
          await kubectlOk('admin', ['delete', roleKind.toLowerCase(), name, ...nsArgs]);
        },
      );
      return all;
    }

    it('impersonate', async function () {
      await withRole('cluster', [{ apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] }], {
        route: 'Escalation',
        object: 'impersonate users cluster-wide',
      });
    });

    it('create rolebindings', async function () {
      await withRole('namespace', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['create'] }], {
        route: 'Escalation',
        object: `create rolebindings.rbac.authorization.k8s.io in namespace ${ns}`,
      });
    });

    it('patch approvalrequests', async function () {
      await withRole('namespace', [{ apiGroups: ['agentgate.io'], resources: ['approvalrequests'], verbs: ['patch'] }], {
        route: 'Escalation',
        object: `patch approvalrequests.agentgate.io in namespace ${ns}`,
      });
    });

    it('ServiceAccount tokens', async function () {
      await withRole('namespace', [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] }], {
        route: 'Escalation',
        object: `create serviceaccounts/token in namespace ${ns}`,
      });
    });

    it('nodes/proxy (the kubelet API skips admission)', async function () {
      await withRole('cluster', [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }], {
        route: 'Escalation',
        object: 'get nodes/proxy cluster-wide',
      });
    });

    it('deleting the webhook configuration', async function () {
      await withRole('cluster', [{ apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['delete'] }], {
        route: 'Escalation',
        object: 'delete validatingwebhookconfigurations.admissionregistration.k8s.io cluster-wide',
      });
    });

    it('but not a binding that only lets the agent request AccessGrants', async function () {
      const name = uniqueName('bnd-requester');
      const requestOnly = [{ apiGroups: ['agentgate.io'], resources: ['accessgrants'], verbs: ['create', 'get', 'list'] }];
      await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: ns }, rules: requestOnly });
      await kubectlOk('admin', ['create', 'rolebinding', name, '-n', ns, '--role', name, '--user', AGENT_USER]);
      // Judged by its rules: the moment the same binding grants more, it is standing access.
      await apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name, namespace: ns },
        rules: [...requestOnly, { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
      });
      await eventually(
        async () => {
          const v = await verify(agent);
          if (!v.findings.some((f) => f.route === 'StandingBinding' && f.object === `RoleBinding/${ns}/${name}`)) throw new Error('binding not seen yet');
          return true;
        },
        30_000,
        'the widened binding to be reported',
      );
      await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: ns }, rules: requestOnly });
      await eventually(
        async () => {
          const v = await verify(agent);
          if (v.findings.some((f) => f.object === `RoleBinding/${ns}/${name}`)) throw new Error(describeFindings(v.findings));
          expect(
            v.findings.filter((f) => f.route === 'Escalation'),
            describeFindings(v.findings),
          ).to.deep.equal([]);
          return true;
        },
        30_000,
        'the request-only binding to be accepted',
      );
      await kubectlOk('admin', ['delete', 'rolebinding', name, '-n', ns]);
      await kubectlOk('admin', ['delete', 'role', name, '-n', ns]);
    });
  });

  describe("the agents' webhook configuration", function () {
    const change = (override: (w: Json) => void) => () => apply(agentsWebhook(url, caBundle, override));
    const restore = () => apply(baseline);

    it('failurePolicy Ignore', async function () {
      await route(
        change((w) => (w.failurePolicy = 'Ignore')),
        { route: 'WebhookFailOpen', object: 'ValidatingWebhookConfiguration/agentgate-agents' },
        restore,
      );
    });

    it('without CONNECT', async function () {
      await route(
        change((w) => (w.rules = [{ operations: ['CREATE', 'UPDATE', 'DELETE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'], scope: '*' }])),
        { route: 'WebhookMissingConnect' },
        restore,
      );
    });

    it('without DELETE', async function () {
      await route(
        change((w) => (w.rules = [{ operations: ['CREATE', 'UPDATE', 'CONNECT'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*/*'] }])),
        { route: 'WebhookMissingOperation' },
        restore,
      );
    });

    it('only some resources', async function () {
      await route(
        change((w) => (w.rules = [{ operations: ['*'], apiGroups: ['', 'apps'], apiVersions: ['*'], resources: ['*/*'] }])),
        { route: 'WebhookMissingResources' },
        restore,
      );
    });

    it('with a matchCondition that misses a subject', async function () {
      const hit = await route(
        change((w) => (w.matchConditions = [{ name: 'agents', expression: `request.userInfo.username == '${AGENT_USER}'` }, NOT_AGENTGATE])),
        { route: 'WebhookSubjectNotMatched' },
        restore,
      );
      expect(hit.message).to.contain(`Group ${AGENT_GROUP}`);
    });

    it('with a matchCondition that lets exec through', async function () {
      const hit = await route(
        change((w) => (w.matchConditions = [AGENTS_CONDITION, { name: 'no-exec', expression: "request.subResource != 'exec'" }])),
        { route: 'WebhookSubjectNotMatched' },
        restore,
      );
      expect(hit.message).to.contain('CONNECT pods/exec');
    });

    it("with a namespaceSelector that exempts the agent's namespace", async function () {
      await route(
        change((w) => (w.namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [ns] }] })),
        { route: 'WebhookExemptsNamespaces' },
        restore,
      );
    });

    it('with an objectSelector', async function () {
      await route(
        change((w) => (w.objectSelector = { matchLabels: { 'agentgate.io/gated': 'true' } })),
        { route: 'WebhookExemptsObjects' },
        restore,
      );
    });

    it('with a CA bundle that is not a certificate (Warning: fails closed)', async function () {
      await route(
        change((w) => ((w.clientConfig as Json).caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n').toString('base64'))),
        { route: 'WebhookBadCABundle', severity: 'Warning' },
        restore,
      );
    });

    it('with an endpoint that does not answer (Warning: fails closed)', async function () {
      await route(
        change((w) => ((w.clientConfig as Json).url = 'https://127.0.0.1:1/validate/agents')),
        { route: 'WebhookUnreachable', severity: 'Warning' },
        restore,
      );
      // --no-probe leaves reachability out.
      await apply(agentsWebhook(url, caBundle, (w) => ((w.clientConfig as Json).url = 'https://127.0.0.1:1/validate/agents')));
      const v = await verify(agent, '--no-probe');
      expect(v.findings, describeFindings(v.findings)).to.deep.equal([]);
    });

    it('deleted', async function () {
      await route(
        () => kubectlOk('admin', ['delete', 'validatingwebhookconfiguration', 'agentgate-agents']),
        { route: 'WebhookMissing', object: 'ValidatingWebhookConfiguration/agentgate-agents' },
        restore,
      );
    });
  });
});
