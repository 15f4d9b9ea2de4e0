// The foundation against a real kube-apiserver: the API installs and teaches itself,
// good manifests are accepted, bad ones are refused naming the field, and the agent
// authenticates as itself and starts with no access at all.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { kubectl, kubectlOk, repoRoot } from '../harness/cluster.js';
import { ensureCrds } from '../harness/crds.js';

const CRD_NAMES = ['agentidentities', 'accessgrants', 'approvalrequests'].map((p) => `${p}.agentgate.io`);

describe('foundation: the agentgate.io API on a real apiserver', function () {
  before(async function () {
    await ensureCrds();
  });

  // The examples name the agent every e2e file acts as; leave the cluster as found.
  after(async function () {
    await kubectl('admin', [
      'delete',
      '--ignore-not-found',
      '--wait=false',
      '-f',
      path.join(repoRoot, 'examples', '30-grant-approval.yaml'),
      '-f',
      path.join(repoRoot, 'examples', '20-grant-jit.yaml'),
      '-f',
      path.join(repoRoot, 'examples', '10-agent-eks.yaml'),
    ]);
  });

  it('installs every CRD and each becomes Established', async function () {
    for (const name of CRD_NAMES) {
      const status = await kubectlOk('admin', ['get', 'crd', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      expect(status, name).to.equal('True');
    }
  });

  it('teaches its fields through kubectl explain', async function () {
    const out = await kubectlOk('admin', ['explain', 'accessgrant.spec']);
    expect(out).to.match(/GROUP:\s+agentgate\.io/);
    expect(out).to.contain('How long the window stays open');
    expect(out).to.contain('reason');
    const duration = await kubectlOk('admin', ['explain', 'accessgrant.spec.duration']);
    expect(duration).to.contain('Go duration');
    const approvals = await kubectlOk('admin', ['explain', 'approvalrequest']);
    expect(approvals).to.contain('kubectl annotate approvalrequest');
  });

  it('lists the CRD kinds under the agentgate category and the short names', async function () {
    const resources = await kubectlOk('admin', ['api-resources', '--api-group', 'agentgate.io', '-o', 'wide']);
    for (const short of ['agent', 'grant', 'ar']) expect(resources).to.match(new RegExp(`\\b${short}\\b`));
    // AuditEvents are served by the aggregated API (audit.agentgate.io), not a CRD: audit.e2e.ts.
    expect(resources).to.not.match(/\sAuditEvent\s/);
    // Each kind, in its own row, carries the category (the last column).
    for (const kind of ['AgentIdentity', 'AccessGrant', 'ApprovalRequest']) {
      const row = resources.split('\n').find((l) => new RegExp(`\\s${kind}\\s`).test(l));
      expect(row, kind).to.match(/\bagentgate\s*$/);
    }
  });

  describe('example manifests', function () {
    it('are all accepted by the apiserver', async function () {
      const out = await kubectlOk('admin', ['apply', '-f', path.join(repoRoot, 'examples')]);
      expect(out).to.contain('agentidentity.agentgate.io/deploy-bot');
      expect(out).to.contain('accessgrant.agentgate.io/deploy-bot-hotfix');
      expect(out).to.contain('accessgrant.agentgate.io/deploy-bot-migration');
    });

    it('print useful columns in kubectl get', async function () {
      const out = await kubectlOk('admin', ['get', 'accessgrants', '-n', 'payments', '-o', 'wide']);
      const header = out.split('\n')[0] ?? '';
      for (const col of ['AGENT', 'ROLE', 'PHASE', 'EXPIRES', 'REASON', 'TICKET', 'AGE']) expect(header).to.contain(col);
      expect(out).to.contain('deploy-bot-hotfix');
      const agents = await kubectlOk('admin', ['get', 'agentidentities']);
      expect(agents.split('\n')[0]).to.match(/SUBJECT.*MAX.*SUSPENDED.*ACTIVE.*BOUNDARY/);
    });
  });

  describe('bad manifests are refused, naming the field', function () {
    const dir = path.join(repoRoot, 'e2e', 'fixtures', 'bad');
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      const expected = /^# expect: (.+)$/m.exec(text)?.[1];
      it(`${file}: ${expected}`, async function () {
        expect(expected, `${file} needs a '# expect:' line`).to.be.a('string');
        const r = await kubectl('admin', ['apply', '-f', '-'], text);
        expect(r.code, `accepted: ${r.stdout}`).to.not.equal(0);
        expect(r.stderr).to.contain(expected!);
      });
    }

    it("refuses a change to an existing grant's spec", async function () {
      const r = await kubectl('admin', ['patch', 'accessgrant', 'deploy-bot-hotfix', '-n', 'payments', '--type', 'merge', '-p', '{"spec":{"duration":"2h"}}']);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('spec is immutable');
      const duration = await kubectlOk('admin', ['get', 'accessgrant', 'deploy-bot-hotfix', '-n', 'payments', '-o', 'jsonpath={.spec.duration}']);
      expect(duration).to.equal('30m');
    });
  });

  describe('identities authenticate for real', function () {
    it('the agent is agent:deploy-bot in group agentgate:agents, by client certificate', async function () {
      const who = JSON.parse(await kubectlOk('agent', ['auth', 'whoami', '-o', 'json'])) as {
        status: { userInfo: { username: string; groups: string[] } };
      };
      expect(who.status.userInfo.username).to.equal('agent:deploy-bot');
      expect(who.status.userInfo.groups).to.include('agentgate:agents');
      expect(who.status.userInfo.groups).to.include('system:authenticated');
    });

    it('the approver and the non-approver are who they say', async function () {
      const alice = await kubectlOk('alice', ['auth', 'whoami']);
      expect(alice)
        .to.match(/alice/)
        .and.match(/sre-approvers/);
      const mallory = await kubectlOk('mallory', ['auth', 'whoami']);
      expect(mallory)
        .to.match(/mallory/)
        .and.not.match(/sre-approvers/);
    });

    it('the agent is forbidden everything before any grant', async function () {
      for (const [verb, resource] of [
        ['create', 'configmaps'],
        ['delete', 'deployments'],
        ['get', 'secrets'],
        ['create', 'pods/exec'],
        ['create', 'rolebindings'],
      ] as const) {
        const r = await kubectl('agent', ['auth', 'can-i', verb, resource, '-n', 'payments']);
        expect(r.stdout.trim(), `${verb} ${resource}`).to.equal('no');
      }
      const create = await kubectl('agent', ['create', 'configmap', 'probe', '-n', 'payments', '--from-literal', 'a=b']);
      expect(create.code).to.not.equal(0);
      expect(create.stderr).to.contain('forbidden');
      expect(create.stderr).to.contain('agent:deploy-bot');
    });
  });
});
