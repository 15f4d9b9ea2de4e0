// What `kubectl get accessgrants` / `kubectl get approvalrequests` print, through the real
// kubectl against the CRDs in crds/: EXPIRES must show the real expiry time. (A `date`
// printer column renders any future time as `<invalid>`, i.e. every live object.)
import { expect } from 'chai';
import { kubectlOk, uniqueName } from '../harness/cluster.js';
import { ensureCrds } from '../harness/crds.js';

/** The cells of one row of a kubectl table, by header, split on kubectl's column alignment. */
function tableRow(table: string, name: string): Record<string, string> {
  const [header = '', ...rows] = table.trimEnd().split('\n');
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
  const line = rows.find((r) => r.startsWith(`${name} `));
  if (!line) throw new Error(`no row ${name} in:\n${table}`);
  const cells: Record<string, string> = {};
  starts.forEach((s, i) => {
    cells[header.slice(s, starts[i + 1]).trim()] = line.slice(s, starts[i + 1]).trim();
  });
  return cells;
}

describe('kubectl get: readable EXPIRES columns', function () {
  this.timeout(120_000);
  const ns = uniqueName('printer');
  // Whole seconds: the apiserver keeps RFC 3339 strings as given, and kubectl prints them so.
  const future = new Date(Date.now() + 3 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');

  before(async () => {
    await ensureCrds();
    await kubectlOk('admin', ['create', 'namespace', ns]);
  });
  after(async () => {
    await kubectlOk('admin', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  });

  it('AccessGrant: EXPIRES is the window end from status.expiresAt, not <invalid>', async () => {
    const name = uniqueName('grant');
    const grant = {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name, namespace: ns },
      spec: { agent: 'deploy-bot', roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '3h', reason: 'e2e: printer columns' },
    };
    await kubectlOk('admin', ['create', '-f', '-'], JSON.stringify(grant));
    // The status an active grant carries (written here as the operator would, through the
    // status subresource; no operator runs in this file).
    await kubectlOk('admin', [
      'patch',
      'accessgrant',
      name,
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Active', expiresAt: future } }),
    ]);

    const row = tableRow(await kubectlOk('admin', ['get', 'accessgrants', '-n', ns]), name);
    expect(row).to.include({ PHASE: 'Active', EXPIRES: future });
    expect(row.AGE).to.match(/^\d+s$/); // the past-time column still reads as an age
  });

  it('AccessGrant: EXPIRES is blank before the operator sets it', async () => {
    const name = uniqueName('grant-new');
    await kubectlOk(
      'admin',
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'agentgate.io/v1alpha1',
        kind: 'AccessGrant',
        metadata: { name, namespace: ns },
        spec: { agent: 'deploy-bot', roleRef: { kind: 'ClusterRole', name: 'agentgate-edit' }, duration: '30m', reason: 'e2e: printer columns' },
      }),
    );
    const row = tableRow(await kubectlOk('admin', ['get', 'accessgrants', '-n', ns]), name);
    expect(row).to.include({ AGENT: 'deploy-bot', PHASE: '', EXPIRES: '' }); // blank, not <invalid>
    expect(row.AGE).to.match(/^\d+s$/);
  });

  it('ApprovalRequest: EXPIRES is spec.expiresAt, not <invalid>', async () => {
    const name = uniqueName('ar');
    const request = {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'ApprovalRequest',
      metadata: { name, namespace: ns },
      spec: {
        agent: 'deploy-bot',
        type: 'Operation',
        operation: { operation: 'DELETE', group: 'apps', version: 'v1', resource: 'deployments', namespace: ns, name: 'web', user: 'agent:deploy-bot' },
        fingerprint: 'a'.repeat(64),
        summary: 'delete deployment web',
        requestedBy: 'agent:deploy-bot',
        expiresAt: future,
      },
    };
    await kubectlOk('admin', ['create', '-f', '-'], JSON.stringify(request));
    const table = await kubectlOk('admin', ['get', 'approvalrequests', '-n', ns]);
    expect(table).to.not.contain('<invalid>');
    expect(tableRow(table, name)).to.include({ EXPIRES: future, SUMMARY: 'delete deployment web' });
  });
});
