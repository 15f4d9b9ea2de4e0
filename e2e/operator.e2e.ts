// The operator against a real kube-apiserver, running as its own least-privilege
// ServiceAccount, with the agent's real kubectl (client certificate agent:deploy-bot)
// proving what RBAC actually lets it do. Waits are `eventually` polls, never timed
// assertions: how fast access goes is measured by bench/operator-expiry.ts.
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import { clusterEnv, eventually, kubectl, kubectlOk, run, uniqueName } from '../harness/cluster.js';
import { componentKubeconfig, freePort, installBase, startProcess, type RunningComponent } from '../harness/components.js';
import { AGENTGATE_NAMESPACE, LABEL_MANAGED_BY, MANAGED_BY, type AccessGrant } from '../api/types.js';
import { accessGrant, agentIdentity, asNew, withMeta } from '../testing/fixtures.js';

interface Grant {
  metadata: { name: string; namespace: string; uid: string; finalizers?: string[] };
  status?: {
    phase?: string;
    activatedAt?: string;
    expiresAt?: string;
    roleBinding?: string;
    approvalRequest?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration?: number }>;
  };
}

const OPERATOR_SA = `system:serviceaccount:${AGENTGATE_NAMESPACE}:agentgate-operator`;
const MANAGED = 'app.kubernetes.io/managed-by=agentgate';

describe('operator: just-in-time AccessGrants become time-bound RoleBindings', function () {
  this.timeout(180_000);

  const agentName = uniqueName('op-bot');
  const allowLabel = 'agentgate-e2e/operator-allowed';
  const lease = uniqueName('op-lease');
  const namespaces: string[] = [];
  let kubeconfig = '';
  let metricsPort = 0;
  let op: RunningComponent | undefined;

  const operatorArgs = (id: string, extra: string[] = []): string[] => [
    '--kubeconfig',
    kubeconfig,
    '--id',
    id,
    '--lease-name',
    lease,
    '--lease-duration',
    '4s',
    '--sweep-interval',
    '5s',
    ...extra,
  ];

  async function startOperator(id = 'op-main'): Promise<RunningComponent> {
    metricsPort = await freePort();
    const p = startProcess('operator', uniqueName(id), operatorArgs(id, ['--metrics-port', String(metricsPort)]), metricsPort);
    await eventually(async () => p.log().includes('caches synced'), 60_000, `operator ${id} to lead and sync`);
    return p;
  }

  async function namespace(allowed = true): Promise<string> {
    const ns = uniqueName('op');
    namespaces.push(ns);
    await kubectlOk('admin', ['create', 'namespace', ns]);
    if (allowed) await kubectlOk('admin', ['label', 'namespace', ns, `${allowLabel}=${agentName}`]);
    return ns;
  }

  async function createGrant(ns: string, name: string, spec: Record<string, unknown> = {}, annotations?: Record<string, string>): Promise<void> {
    const body = accessGrant(
      name,
      ns,
      { agent: agentName, roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '10m', reason: 'e2e: operator test', ...spec },
      asNew,
      withMeta<AccessGrant>(annotations ? { annotations } : {}),
    );
    await kubectlOk('admin', ['create', '-f', '-'], JSON.stringify(body));
  }

  async function getGrant(ns: string, name: string): Promise<Grant | undefined> {
    const r = await kubectl('admin', ['get', 'accessgrant', name, '-n', ns, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as Grant) : undefined;
  }

  async function phaseOf(ns: string, name: string): Promise<string | undefined> {
    return (await getGrant(ns, name))?.status?.phase;
  }

  async function waitPhase(ns: string, name: string, phase: string, timeoutMs = 30_000): Promise<Grant> {
    return eventually(
      async () => {
        const g = await getGrant(ns, name);
        return g?.status?.phase === phase ? g : undefined;
      },
      timeoutMs,
      `grant ${ns}/${name} to be ${phase}`,
    );
  }

  async function managedBindings(ns: string): Promise<
    Array<{
      metadata: { name: string; labels: Record<string, string>; ownerReferences?: Array<{ uid: string; controller?: boolean; kind: string }> };
      subjects?: Array<{ kind: string; name: string }>;
      roleRef: { kind: string; name: string };
    }>
  > {
    const out = await kubectlOk('admin', ['get', 'rolebindings', '-n', ns, '-l', MANAGED, '-o', 'json']);
    return (JSON.parse(out) as { items: [] }).items;
  }

  const canI = async (verb: string, resource: string, ns: string): Promise<boolean> =>
    (await kubectl('agent', ['auth', 'can-i', verb, resource, '-n', ns])).stdout.trim() === 'yes';

  const agentCreatesConfigMap = async (ns: string): Promise<{ ok: boolean; stderr: string }> => {
    const r = await kubectl('agent', ['create', 'configmap', uniqueName('cm'), '-n', ns, '--from-literal', 'a=b']);
    return { ok: r.code === 0, stderr: r.stderr };
  };

  /** kubectl as the operator's ServiceAccount (a real token), to test its own RBAC. */
  const asOperator = (args: string[], input?: string) => run(clusterEnv().kubectlPath, ['--kubeconfig', kubeconfig, ...args], input);

  async function setAgent(patch: Record<string, unknown>): Promise<void> {
    await kubectlOk('admin', ['patch', 'agentidentity', agentName, '--type', 'merge', '-p', JSON.stringify({ spec: patch })]);
  }

  before(async function () {
    await installBase();
    kubeconfig = await componentKubeconfig('operator');
    // The only agent certificate is agent:deploy-bot, so every test's AgentIdentity names it.
    const agent = agentIdentity(
      agentName,
      {
        maxDuration: '1h',
        allowedRoles: [
          { kind: 'ClusterRole', name: 'agentgate-edit' },
          { kind: 'ClusterRole', name: 'view' },
        ],
        allowedNamespaces: { selector: { matchLabels: { [allowLabel]: agentName } } },
      },
      asNew,
    );
    await kubectlOk('admin', ['create', '-f', '-'], JSON.stringify(agent));
    op = await startOperator();
  });

  after(async function () {
    // Finalizers are the operator's; it may be stopped by now, so clear them by hand.
    for (const ns of namespaces) {
      const r = await kubectl('admin', ['get', 'accessgrants', '-n', ns, '-o', 'name']);
      for (const g of r.stdout.split('\n').filter(Boolean)) {
        await kubectl('admin', ['patch', g, '-n', ns, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}']);
      }
    }
    await kubectl('admin', ['delete', 'agentidentity', agentName, '--ignore-not-found', '--wait=false']);
    if (namespaces.length) await kubectl('admin', ['delete', 'namespace', ...namespaces, '--ignore-not-found', '--wait=false']);
    await kubectl('admin', ['delete', 'lease', lease, '-n', AGENTGATE_NAMESPACE, '--ignore-not-found']);
  });

  describe("the operator's own RBAC is least privilege", function () {
    it('may bind agentgate-edit and view, and not edit, cluster-admin or admin', async function () {
      // edit can impersonate ServiceAccounts and mint their tokens: not a role for agents.
      for (const [role, want] of [
        ['agentgate-edit', 'yes'],
        ['view', 'yes'],
        ['edit', 'no'],
        ['cluster-admin', 'no'],
        ['admin', 'no'],
      ] as const) {
        const r = await kubectl('admin', ['auth', 'can-i', 'bind', `clusterroles/${role}`, '--as', OPERATOR_SA]);
        expect(r.stdout.trim(), `bind ${role}`).to.equal(want);
      }
    });

    it("really creates a RoleBinding to agentgate-edit, and is refused one to cluster-admin or one without agentgate's label", async function () {
      const ns = await namespace(false);
      // Bound to a user nobody authenticates as, so the probe grants no one anything. The
      // operator may write only RoleBindings labelled as agentgate's (the
      // agentgate-managed-rolebindings-only policy), so the probes carry that label.
      const binding = (name: string, role: string, labels: Record<string, string>) =>
        JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name, namespace: ns, labels },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'e2e:nobody' }],
        });
      const managed = { [LABEL_MANAGED_BY]: MANAGED_BY };
      const ok = await asOperator(['create', '-f', '-'], binding('probe-edit', 'agentgate-edit', managed));
      expect(ok.code, ok.stderr).to.equal(0);
      const denied = await asOperator(['create', '-f', '-'], binding('probe-admin', 'cluster-admin', managed));
      expect(denied.code).to.not.equal(0);
      expect(denied.stderr)
        .to.match(/forbidden/i)
        .and.match(/not currently held|escalat|bind/);
      const unlabelled = await asOperator(['create', '-f', '-'], binding('probe-unlabelled', 'agentgate-edit', {}));
      expect(unlabelled.code, 'an unlabelled RoleBinding written by the operator').to.not.equal(0);
      expect(unlabelled.stderr).to.match(/agentgate-managed-rolebindings-only|denied/i);
      const otherValue = await asOperator(['create', '-f', '-'], binding('probe-other', 'agentgate-edit', { [LABEL_MANAGED_BY]: 'someone-else' }));
      expect(otherValue.code, 'a RoleBinding labelled as managed by someone else, written by the operator').to.not.equal(0);
      expect(otherValue.stderr).to.match(/agentgate-managed-rolebindings-only/);
      // Someone else's binding: the operator may neither delete it nor take it over by labelling it
      // (the policy looks at the old object too, not only at what the operator sends).
      await kubectlOk('admin', ['create', '-f', '-'], binding('probe-foreign', 'view', {}));
      const foreign = JSON.parse(await kubectlOk('admin', ['get', 'rolebinding', 'probe-foreign', '-n', ns, '-o', 'json'])) as k8s.V1RoleBinding;
      const takeOver = await asOperator(['replace', '-f', '-'], JSON.stringify({ ...foreign, metadata: { ...foreign.metadata, labels: managed } }));
      expect(takeOver.code, "the operator labelling someone else's RoleBinding as agentgate's").to.not.equal(0);
      expect(takeOver.stderr).to.match(/agentgate-managed-rolebindings-only/);
      const remove = await asOperator(['delete', 'rolebinding', 'probe-foreign', '-n', ns]);
      expect(remove.code, "the operator deleting someone else's RoleBinding").to.not.equal(0);
      expect(remove.stderr).to.match(/agentgate-managed-rolebindings-only/);
      await kubectlOk('admin', ['delete', 'rolebinding', 'probe-foreign', '-n', ns]);
      // The running operator may already have removed it: a labelled binding no grant owns is its to delete.
      await kubectlOk('admin', ['delete', 'rolebinding', 'probe-edit', '-n', ns, '--ignore-not-found']);
    });

    it('holds nothing else of note: no secrets, no ClusterRoleBindings, no pods, no escalate or impersonate', async function () {
      for (const [verb, res] of [
        ['get', 'secrets'],
        ['create', 'clusterrolebindings'],
        ['create', 'pods'],
        ['escalate', 'clusterroles'],
        ['impersonate', 'users'],
        ['delete', 'accessgrants'],
        ['create', 'auditevents'],
      ] as const) {
        const r = await kubectl('admin', ['auth', 'can-i', verb, res, '-A', '--as', OPERATOR_SA]);
        expect(r.stdout.trim(), `${verb} ${res}`).to.equal('no');
      }
      // Retention of legacy AuditEvent custom resources (agentgate.io, before the audit store), in
      // its namespace only; the record itself (audit.agentgate.io) is read-only for everyone. Asked
      // by SubjectAccessReview: kubectl auth can-i answers no for a resource without a CRD.
      const may = async (group: string, namespace: string): Promise<boolean> => {
        const review = {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: OPERATOR_SA,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${AGENTGATE_NAMESPACE}`, 'system:authenticated'],
            resourceAttributes: { group, resource: 'auditevents', verb: 'delete', namespace },
          },
        };
        const out = await kubectlOk('admin', ['create', '-f', '-', '-o', 'json'], JSON.stringify(review));
        return (JSON.parse(out) as { status?: { allowed?: boolean } }).status?.allowed === true;
      };
      expect(await may('agentgate.io', AGENTGATE_NAMESPACE), 'legacy retention').to.equal(true);
      expect(await may('agentgate.io', 'default'), 'legacy elsewhere').to.equal(false);
      expect(await may('audit.agentgate.io', AGENTGATE_NAMESPACE), 'the record').to.equal(false);
    });
  });

  describe('timing and scope', function () {
    it('without a grant the agent is forbidden', async function () {
      const ns = await namespace();
      expect(await canI('create', 'configmaps', ns)).to.equal(false);
      const r = await agentCreatesConfigMap(ns);
      expect(r.ok).to.equal(false);
      expect(r.stderr).to.contain('forbidden').and.contain('agent:deploy-bot');
    });

    it('an Immediate 20s grant of edit opens X (not Y) and closes again at expiresAt', async function () {
      const x = await namespace();
      const y = await namespace();
      await createGrant(x, 'window', { duration: '20s' });
      const g = await waitPhase(x, 'window', 'Active');
      expect(g.status?.activatedAt).to.be.a('string');
      expect(Date.parse(g.status!.expiresAt!) - Date.parse(g.status!.activatedAt!)).to.be.within(20_000, 21_000);
      expect(g.status?.roleBinding).to.equal('agentgate-window');
      expect(g.metadata.finalizers).to.include('agentgate.io/revoke-access');
      const active = g.status?.conditions?.find((c) => c.type === 'Active');
      expect(active).to.include({ status: 'True', reason: 'Activated', observedGeneration: 1 });

      await eventually(() => canI('create', 'configmaps', x), 10_000, 'agent may create configmaps in X');
      expect((await agentCreatesConfigMap(x)).ok).to.equal(true);
      expect(await canI('create', 'configmaps', y)).to.equal(false);
      expect((await agentCreatesConfigMap(y)).ok).to.equal(false);

      const [rb] = await managedBindings(x);
      expect(rb?.metadata.name).to.equal('agentgate-window');
      expect(rb?.metadata.labels).to.include({ 'agentgate.io/grant': 'window', 'agentgate.io/agent': agentName });
      expect(rb?.metadata.ownerReferences?.[0]).to.include({ kind: 'AccessGrant', uid: g.metadata.uid, controller: true });
      expect(rb?.roleRef).to.include({ kind: 'ClusterRole', name: 'agentgate-edit' });
      expect(rb?.subjects).to.deep.equal([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'agent:deploy-bot' }]);

      const expired = await waitPhase(x, 'window', 'Expired', 60_000);
      expect(Date.now()).to.be.at.least(Date.parse(expired.status!.expiresAt!));
      expect(await canI('create', 'configmaps', x)).to.equal(false);
      expect((await agentCreatesConfigMap(x)).ok).to.equal(false);
      expect(await managedBindings(x)).to.deep.equal([]);
      const events = await kubectlOk('admin', [
        'get',
        'events',
        '-n',
        x,
        '--field-selector',
        'involvedObject.name=window',
        '-o',
        'jsonpath={.items[*].reason}',
      ]);
      expect(events).to.contain('Activated').and.contain('Expired');
    });

    describe('over the ceiling: Invalid, naming the field, and no RoleBinding', function () {
      const cases: Array<[string, Record<string, unknown>, boolean, RegExp]> = [
        ['duration', { duration: '3h' }, true, /spec\.duration: 3h exceeds AgentIdentity \S+'s spec\.maxDuration 1h/],
        [
          'role',
          { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
          true,
          /spec\.roleRef: ClusterRole\/cluster-admin is not in AgentIdentity \S+'s spec\.allowedRoles/,
        ],
        ['namespace', {}, false, /metadata\.namespace: \S+ is not in AgentIdentity \S+'s spec\.allowedNamespaces/],
      ];
      for (const [what, spec, allowed, message] of cases) {
        it(what, async function () {
          const ns = await namespace(allowed);
          await createGrant(ns, 'too-much', spec);
          const g = await waitPhase(ns, 'too-much', 'Invalid');
          const valid = g.status?.conditions?.find((c) => c.type === 'Valid');
          expect(valid?.status).to.equal('False');
          expect(valid?.message).to.match(message);
          expect(await managedBindings(ns)).to.deep.equal([]);
          expect(await canI('create', 'configmaps', ns)).to.equal(false);
        });
      }
    });
  });

  describe('activation approval', function () {
    it('RequiresApproval waits in AwaitingApproval with an ApprovalRequest, and activates once approved', async function () {
      const ns = await namespace();
      await createGrant(
        ns,
        'needs-ok',
        { activation: 'RequiresApproval', duration: '15m', reason: 'run the migration' },
        { 'agentgate.io/requested-by': 'agent:deploy-bot' },
      );
      const g = await waitPhase(ns, 'needs-ok', 'AwaitingApproval');
      expect(g.status?.approvalRequest).to.equal('activate-needs-ok');
      const ar = await eventually(
        async () => {
          const r = await kubectl('admin', ['get', 'approvalrequest', 'activate-needs-ok', '-n', ns, '-o', 'json']);
          const o = r.code === 0 ? (JSON.parse(r.stdout) as { spec: Record<string, string>; status?: { phase?: string } }) : undefined;
          return o?.status?.phase === 'Pending' ? o : undefined;
        },
        20_000,
        'the activation ApprovalRequest',
      );
      expect(ar.spec).to.include({ agent: agentName, type: 'Activation', grant: 'needs-ok', requestedBy: 'agent:deploy-bot' });
      expect(ar.spec.fingerprint).to.match(/^[0-9a-f]{64}$/);
      expect(ar.spec.summary).to.equal(`activate agentgate-edit in ${ns} for 15m for ${agentName}: run the migration`);
      expect(await managedBindings(ns)).to.deep.equal([]);
      expect(await canI('create', 'configmaps', ns)).to.equal(false);

      // Recording an approval is the webhook's job (it verifies the approver from the
      // authenticated annotate request and writes status via the status subresource).
      // The webhook is not part of this suite, so admin writes what it would write.
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await kubectlOk('admin', [
        'patch',
        'approvalrequest',
        'activate-needs-ok',
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({
          status: { phase: 'Approved', decidedAt: now, approvals: [{ user: 'alice', groups: ['sre-approvers'], decision: 'Approved', time: now }] },
        }),
      ]);
      const active = await waitPhase(ns, 'needs-ok', 'Active');
      expect(active.status?.conditions?.find((c) => c.type === 'Approved')).to.include({ status: 'True', reason: 'Approved' });
      await eventually(() => canI('create', 'configmaps', ns), 10_000, 'access after approval');
      const consumed = JSON.parse(await kubectlOk('admin', ['get', 'approvalrequest', 'activate-needs-ok', '-n', ns, '-o', 'json'])) as {
        status: Record<string, string>;
      };
      await eventually(
        async () => {
          const o = JSON.parse(await kubectlOk('admin', ['get', 'approvalrequest', 'activate-needs-ok', '-n', ns, '-o', 'json'])) as {
            status: Record<string, string>;
          };
          return o.status.phase === 'Consumed' && o.status.consumedBy === 'operator';
        },
        10_000,
        `the ApprovalRequest to be Consumed (was ${consumed.status.phase})`,
      );
    });

    it('a denied activation leaves the grant Denied and the agent without access', async function () {
      const ns = await namespace();
      await createGrant(ns, 'nope', { activation: 'RequiresApproval' });
      await waitPhase(ns, 'nope', 'AwaitingApproval');
      await eventually(async () => (await kubectl('admin', ['get', 'approvalrequest', 'activate-nope', '-n', ns])).code === 0, 20_000, 'the ApprovalRequest');
      // As above: admin stands in for the webhook's status write.
      await kubectlOk('admin', [
        'patch',
        'approvalrequest',
        'activate-nope',
        '-n',
        ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"phase":"Denied","message":"not during the freeze"}}',
      ]);
      const g = await waitPhase(ns, 'nope', 'Denied');
      expect(g.status?.conditions?.find((c) => c.type === 'Approved')).to.include({ reason: 'ApprovalDenied' });
      expect(await managedBindings(ns)).to.deep.equal([]);
    });

    it('an activation request nobody decides expires, and the grant is Denied (ApprovalExpired)', async function () {
      // Its own operator with a 3s approval TTL, so the default one steps aside meanwhile.
      await op?.stop('SIGTERM');
      const shortTtl = startProcess('operator', uniqueName('op-ttl'), operatorArgs('op-ttl', ['--metrics-port', '0', '--approval-ttl', '3s']));
      try {
        await eventually(async () => shortTtl.log().includes('caches synced'), 60_000, 'short-ttl operator');
        const ns = await namespace();
        await createGrant(ns, 'too-slow', { activation: 'RequiresApproval' });
        const g = await waitPhase(ns, 'too-slow', 'Denied', 30_000);
        expect(g.status?.conditions?.find((c) => c.type === 'Approved')).to.include({ status: 'False', reason: 'ApprovalExpired' });
        const phase = await kubectlOk('admin', ['get', 'approvalrequest', 'activate-too-slow', '-n', ns, '-o', 'jsonpath={.status.phase}']);
        expect(phase).to.equal('Expired');
      } finally {
        await shortTtl.stop('SIGTERM');
        op = await startOperator();
      }
    });
  });

  describe('revocation', function () {
    it('deleting the grant removes access at once: its finalizer holds the grant until the RoleBinding is gone', async function () {
      const ns = await namespace();
      await createGrant(ns, 'short-lived');
      await waitPhase(ns, 'short-lived', 'Active');
      const fins = await kubectlOk('admin', ['get', 'accessgrant', 'short-lived', '-n', ns, '-o', 'jsonpath={.metadata.finalizers}']);
      expect(fins).to.contain('agentgate.io/revoke-access');
      await eventually(() => canI('create', 'configmaps', ns), 10_000, 'access');
      await kubectlOk('admin', ['delete', 'accessgrant', 'short-lived', '-n', ns, '--wait=true', '--timeout=30s']);
      expect(await managedBindings(ns)).to.deep.equal([]);
      expect(await canI('create', 'configmaps', ns)).to.equal(false);
    });

    it("changing the agent's subjects updates its bindings", async function () {
      const ns = await namespace();
      await createGrant(ns, 'follow');
      await waitPhase(ns, 'follow', 'Active');
      await setAgent({
        subjects: [
          { kind: 'User', name: 'agent:deploy-bot' },
          { kind: 'Group', name: 'e2e:extra-bots' },
        ],
      });
      await eventually(
        async () => (await managedBindings(ns))[0]?.subjects?.some((s) => s.name === 'e2e:extra-bots'),
        20_000,
        'binding subjects to follow the agent',
      );
      await setAgent({ subjects: [{ kind: 'User', name: 'agent:deploy-bot' }] });
      await eventually(async () => (await managedBindings(ns))[0]?.subjects?.length === 1, 20_000, 'binding subjects back to one');
    });

    it('suspending the agent removes all its access at once and revokes its grants', async function () {
      const a = await namespace();
      const b = await namespace();
      await createGrant(a, 'one');
      await createGrant(b, 'two');
      await createGrant(b, 'later', { activation: 'RequiresApproval' });
      await waitPhase(a, 'one', 'Active');
      await waitPhase(b, 'two', 'Active');
      await waitPhase(b, 'later', 'AwaitingApproval');
      await eventually(async () => (await canI('create', 'configmaps', a)) && (await canI('create', 'configmaps', b)), 10_000, 'access in both');
      const ready = await kubectlOk('admin', ['get', 'agentidentity', agentName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      expect(ready).to.equal('True');

      await setAgent({ suspended: true });
      try {
        await eventually(async () => (await managedBindings(a)).length === 0 && (await managedBindings(b)).length === 0, 20_000, 'all bindings gone');
        expect(await canI('create', 'configmaps', a)).to.equal(false);
        expect(await canI('create', 'configmaps', b)).to.equal(false);
        for (const [ns, g] of [
          [a, 'one'],
          [b, 'two'],
          [b, 'later'],
        ] as const)
          await waitPhase(ns, g, 'Revoked');
        await eventually(
          async () => {
            const st = JSON.parse(await kubectlOk('admin', ['get', 'agentidentity', agentName, '-o', 'json'])) as {
              status?: { activeGrants?: number; conditions?: Array<{ type: string; status: string; reason: string }> };
            };
            const r = st.status?.conditions?.find((c) => c.type === 'Ready');
            return r?.status === 'False' && r.reason === 'Suspended' && st.status?.activeGrants === 0;
          },
          20_000,
          'agent Ready=False Suspended',
        );
      } finally {
        await setAgent({ suspended: false });
      }
      // Revoked is final: lifting the suspension does not bring old grants back.
      await eventually(
        async () =>
          (await kubectlOk('admin', ['get', 'agentidentity', agentName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True',
        20_000,
        'agent Ready again',
      );
      expect(await phaseOf(a, 'one')).to.equal('Revoked');
      expect(await managedBindings(a)).to.deep.equal([]);
    });
  });

  describe('observability', function () {
    it('serves prom-client metrics: grants by phase, reconcile duration, expiry lag', async function () {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${metricsPort}/metrics`, (res) => {
            let s = '';
            res.on('data', (d: Buffer) => (s += d.toString()));
            res.on('end', () => resolve(s));
          })
          .on('error', reject);
      });
      expect(body).to.match(/agentgate_grants\{phase="Active"\} \d+/);
      expect(body).to.match(/agentgate_grants\{phase="Invalid"\} [1-9]/);
      expect(body).to.contain('agentgate_reconcile_duration_seconds_bucket');
      expect(body).to.contain('agentgate_reconcile_errors_total');
      expect(body).to.contain('agentgate_grant_expiry_lag_seconds');
      expect(body).to.match(/agentgate_operator_leader 1/);
    });

    it('logs JSON lines', function () {
      const lines = op!
        .log()
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'));
      expect(lines.length).to.be.greaterThan(3);
      const parsed = lines.map((l) => JSON.parse(l) as { level: string; message: string; component: string });
      expect(parsed.some((l) => l.message === 'grant phase' && l.component === 'operator')).to.equal(true);
    });
  });

  describe('restart recovery', function () {
    it('after a SIGKILL, an overdue grant is expired and an orphan binding deleted at startup', async function () {
      const ns = await namespace();
      await createGrant(ns, 'outlive', { duration: '8s' });
      const g = await waitPhase(ns, 'outlive', 'Active');
      await op!.stop('SIGKILL');
      // Labelled as agentgate's, naming a grant that does not exist: standing access in disguise.
      await kubectlOk(
        'admin',
        ['create', '-f', '-'],
        JSON.stringify({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: {
            name: 'agentgate-ghost',
            namespace: ns,
            labels: { 'app.kubernetes.io/managed-by': 'agentgate', 'agentgate.io/grant': 'ghost', 'agentgate.io/agent': agentName },
          },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'agent:deploy-bot' }],
        }),
      );
      // Wait (not assert) until the window is over while nobody is watching it.
      await eventually(async () => Date.now() > Date.parse(g.status!.expiresAt!) + 1000, 30_000, 'the window to pass');
      expect((await managedBindings(ns)).map((b) => b.metadata.name).sort()).to.deep.equal(['agentgate-ghost', 'agentgate-outlive']);
      expect(await canI('create', 'configmaps', ns)).to.equal(true);

      op = await startOperator();
      await waitPhase(ns, 'outlive', 'Expired', 30_000);
      await eventually(async () => (await managedBindings(ns)).length === 0, 30_000, 'both bindings removed');
      expect(await canI('get', 'configmaps', ns)).to.equal(false);
    });
  });

  describe('leader election', function () {
    const holder = async (): Promise<string> =>
      (await kubectl('admin', ['get', 'lease', lease, '-n', AGENTGATE_NAMESPACE, '-o', 'jsonpath={.spec.holderIdentity}'])).stdout.trim();

    it('of two replicas only the leader acts; killing it hands over to the other', async function () {
      await op?.stop('SIGTERM');
      op = undefined;
      const replicas: Record<string, RunningComponent> = {
        a: startProcess('operator', uniqueName('op-a'), operatorArgs('replica-a', ['--metrics-port', '0'])),
        b: startProcess('operator', uniqueName('op-b'), operatorArgs('replica-b', ['--metrics-port', '0'])),
      };
      try {
        const first = await eventually(
          async () => {
            const h = await holder();
            return h === 'replica-a' || h === 'replica-b' ? h : undefined;
          },
          30_000,
          'a leader',
        );
        const leader = replicas[first === 'replica-a' ? 'a' : 'b']!;
        const standby = replicas[first === 'replica-a' ? 'b' : 'a']!;
        const standbyId = first === 'replica-a' ? 'replica-b' : 'replica-a';
        await eventually(async () => leader.log().includes('caches synced'), 30_000, 'leader synced');

        const ns = await namespace();
        await createGrant(ns, 'under-a');
        await waitPhase(ns, 'under-a', 'Active');
        await eventually(async () => leader.log().includes(`"grant":"${ns}/under-a"`), 10_000, 'the leader to log the grant');
        expect(standby.log()).to.not.contain(`${ns}/under-a`);
        expect(standby.log()).to.not.contain('became leader');

        await leader.stop('SIGKILL');
        await eventually(async () => (await holder()) === standbyId, 60_000, `${standbyId} to take the lease`);
        await createGrant(ns, 'under-b');
        await waitPhase(ns, 'under-b', 'Active', 30_000);
        // The activation is logged when its pass ends, after the status write waitPhase saw.
        await eventually(async () => standby.log().includes(`"grant":"${ns}/under-b"`), 10_000, `${standbyId} to log the grant it activated`);

        // Graceful handover: SIGTERM releases the lease, a fresh standby takes it without waiting it out.
        const c = startProcess('operator', uniqueName('op-c'), operatorArgs('replica-c', ['--metrics-port', '0']));
        replicas.c = c;
        await eventually(async () => c.log().includes('candidate'), 20_000, 'replica-c to campaign');
        await standby.stop('SIGTERM');
        expect(standby.log()).to.contain('released the lease');
        await eventually(async () => (await holder()) === 'replica-c', 30_000, 'replica-c to take the released lease');
        await eventually(async () => c.log().includes('caches synced'), 30_000, 'replica-c synced');
        await createGrant(ns, 'under-c');
        await waitPhase(ns, 'under-c', 'Active', 30_000);
      } finally {
        for (const r of Object.values(replicas)) await r.stop('SIGTERM');
      }
    });
  });
});
