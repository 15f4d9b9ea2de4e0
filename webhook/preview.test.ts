import { expect } from 'chai';
import type { AdmissionRequest, JsonObject } from '../lib/admission.js';
import { LAST_APPLIED_ANNOTATION } from '../lib/fingerprint.js';
import { boundBytes, diffObjects, execCommand, preview, PREVIEW_MAX_BYTES, shellQuote, summarize, SUMMARY_MAX_CHARS } from './preview.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function deployment(replicas: number, image = 'nginx:1.27', meta: JsonObject = {}): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'prod', uid: 'u-1', resourceVersion: '9', labels: { app: 'web' }, ...meta },
    spec: { replicas, template: { spec: { containers: [{ name: 'web', image }] } } },
    status: { replicas: 3 },
  };
}

function request(over: Partial<AdmissionRequest> & Pick<AdmissionRequest, 'operation'>): AdmissionRequest {
  return {
    uid: 'r1',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    namespace: 'prod',
    name: 'web',
    userInfo: { username: 'system:serviceaccount:agents:deploy-bot' },
    ...over,
  };
}

function execRequest(command: string[] | undefined, sub = 'exec', extra: JsonObject = {}): AdmissionRequest {
  return request({
    operation: 'CONNECT',
    kind: { group: '', version: 'v1', kind: sub === 'exec' ? 'PodExecOptions' : 'PodAttachOptions' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    subResource: sub,
    name: 'web-0',
    userInfo: {},
    object: { kind: 'PodExecOptions', apiVersion: 'v1', container: 'app', stdin: true, stdout: true, tty: true, ...(command ? { command } : {}), ...extra },
  });
}

function secret(data: JsonObject, extraMeta: JsonObject = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'db', namespace: 'prod', ...extraMeta }, data };
}

function secretRequest(over: Partial<AdmissionRequest> & Pick<AdmissionRequest, 'operation'>): AdmissionRequest {
  return request({ kind: { group: '', version: 'v1', kind: 'Secret' }, resource: { group: '', version: 'v1', resource: 'secrets' }, name: 'db', ...over });
}

describe('preview: summarize', () => {
  it('DELETE apps/v1 deployments prod/web by agent:deploy-bot', () => {
    const r = request({ operation: 'DELETE', oldObject: deployment(3) });
    expect(summarize(r, 'deploy-bot')).to.equal('DELETE apps/v1 deployments prod/web by agent:deploy-bot');
  });

  it('falls back to the username, and core-group resources show only the version', () => {
    const r = request({ operation: 'DELETE', resource: { group: '', version: 'v1', resource: 'configmaps' }, name: 'cfg' });
    expect(summarize(r)).to.equal('DELETE v1 configmaps prod/cfg by system:serviceaccount:agents:deploy-bot');
  });

  it('CONNECT pods/exec prod/web-0: sh -c "rm -rf /data"', () => {
    expect(summarize(execRequest(['sh', '-c', 'rm -rf /data']))).to.equal('CONNECT pods/exec prod/web-0: sh -c "rm -rf /data"');
    expect(summarize(execRequest(['sh']), 'bot')).to.equal('CONNECT pods/exec prod/web-0 by agent:bot: sh');
  });

  it('CONNECT attach / portforward say what they open', () => {
    expect(summarize(execRequest(undefined, 'attach'))).to.equal('CONNECT pods/attach prod/web-0: attach container app');
    const pf = execRequest(undefined, 'portforward', { ports: [5432] });
    expect(summarize(pf)).to.equal('CONNECT pods/portforward prod/web-0: ports 5432');
  });

  it('a replica change is named in the summary (scale to zero is visible in a listing)', () => {
    const r = request({
      operation: 'UPDATE',
      subResource: 'scale',
      object: { kind: 'Scale', spec: { replicas: 0 } },
      oldObject: { kind: 'Scale', spec: { replicas: 3 } },
    });
    expect(summarize(r, 'bot')).to.equal('UPDATE apps/v1 deployments/scale prod/web (replicas 3 -> 0) by agent:bot');
  });

  it('a create with generateName shows the prefix; cluster-scoped shows no namespace', () => {
    const r = request({ operation: 'CREATE', name: '', object: { metadata: { generateName: 'job-' } } });
    expect(summarize(r, 'bot')).to.equal('CREATE apps/v1 deployments prod/job-* by agent:bot');
    const ns = request({ operation: 'DELETE', namespace: '', resource: { group: '', version: 'v1', resource: 'namespaces' }, name: 'prod' });
    expect(summarize(ns, 'bot')).to.equal('DELETE v1 namespaces prod by agent:bot');
  });

  it('stays one bounded line even for hostile commands', () => {
    const s = summarize(execRequest(['sh', '-c', `echo hi\nDELETE everything\r${'x'.repeat(1000)}`]));
    expect(s).to.not.match(/[\n\r]/);
    expect(s.length).to.be.at.most(SUMMARY_MAX_CHARS);
    expect(s.endsWith('…')).to.equal(true);
  });
});

describe('preview: execCommand', () => {
  it('returns the exec command', () => {
    expect(execCommand(execRequest(['sh', '-c', 'id']))).to.deep.equal(['sh', '-c', 'id']);
  });
  it('is undefined for attach, non-CONNECT, or missing options', () => {
    expect(execCommand(execRequest(undefined, 'attach'))).to.equal(undefined);
    expect(execCommand(request({ operation: 'UPDATE', object: { command: ['x'] } }))).to.equal(undefined);
    expect(execCommand(request({ operation: 'CONNECT' }))).to.equal(undefined);
  });
  it('shellQuote quotes only what needs it', () => {
    expect(shellQuote(['kubectl', '-n', 'prod', 'get', 'pods'])).to.equal('kubectl -n prod get pods');
    expect(shellQuote(['sh', '-c', 'a "b"', ''])).to.equal('sh -c "a \\"b\\"" ""');
  });
});

describe('preview: UPDATE diff', () => {
  it('lists changed paths with old -> new values, ignoring status and server metadata', () => {
    const r = request({
      operation: 'UPDATE',
      oldObject: deployment(3, 'nginx:1.27', { resourceVersion: '1' }),
      object: { ...deployment(0, 'nginx:1.28', { resourceVersion: '2', managedFields: [{}] }), status: { replicas: 0 } },
    });
    expect(preview(r)).to.equal(['spec.replicas: 3 -> 0', 'spec.template.spec.containers[0].image: "nginx:1.27" -> "nginx:1.28"'].join('\n'));
  });

  it('shows added and removed fields and quotes awkward keys', () => {
    const r = request({
      operation: 'UPDATE',
      oldObject: deployment(3, 'nginx', { labels: { app: 'web', old: 'x' } }),
      object: deployment(3, 'nginx', { labels: { app: 'web' }, annotations: { 'example.com/owner': 'team-a' } }),
    });
    const p = preview(r);
    expect(p).to.include('metadata.annotations: <absent> -> {"example.com/owner":"team-a"}');
    expect(p).to.include('metadata.labels.old: "x" -> <absent>');
  });

  it('paths use brackets for keys that are not identifiers', () => {
    const d = diffObjects({ a: { 'x.y/z': 1 } }, { a: { 'x.y/z': 2 } });
    expect(d.changes).to.deep.equal([{ path: 'a["x.y/z"]', from: 1, to: 2 }]);
  });

  it('caps the number of changes and says how many more', () => {
    const before: JsonObject = {};
    const after: JsonObject = {};
    for (let i = 0; i < 100; i++) {
      before[`k${String(i).padStart(3, '0')}`] = i;
      after[`k${String(i).padStart(3, '0')}`] = i + 1;
    }
    const r = request({ operation: 'UPDATE', oldObject: { data: before }, object: { data: after } });
    const p = preview(r);
    expect(p).to.include('data.k000: 0 -> 1');
    expect(p).to.match(/… and 60 more changes$/);
    expect(bytes(p)).to.be.at.most(PREVIEW_MAX_BYTES);
  });

  it('says so when nothing but volatile fields changed', () => {
    const r = request({ operation: 'UPDATE', oldObject: deployment(3, 'a', { resourceVersion: '1' }), object: deployment(3, 'a', { resourceVersion: '2' }) });
    expect(preview(r)).to.match(/^no changes/);
  });
});

describe('preview: CREATE, DELETE, CONNECT', () => {
  it('CREATE renders the canonical object as YAML', () => {
    const r = request({
      operation: 'CREATE',
      object: deployment(2, 'nginx', { managedFields: [{ manager: 'kubectl' }], annotations: { [LAST_APPLIED_ANNOTATION]: '{"x":1}' } }),
    });
    const p = preview(r);
    expect(p).to.include('kind: Deployment');
    expect(p).to.include('replicas: 2');
    expect(p).to.not.include('managedFields');
    expect(p).to.not.include('last-applied');
    expect(p).to.not.include('resourceVersion');
    expect(p).to.not.include('status');
  });

  it('DELETE names the object and a few identifying fields', () => {
    const r = request({
      operation: 'DELETE',
      oldObject: deployment(3, 'nginx:1.27', { creationTimestamp: '2024-05-01T00:00:00Z', ownerReferences: [{ kind: 'Tenant', name: 't1' }] }),
      options: { propagationPolicy: 'Foreground' },
    });
    const p = preview(r);
    expect(p.split('\n')[0]).to.equal('delete Deployment prod/web');
    expect(p).to.include('uid: u-1');
    expect(p).to.include('labels: app=web');
    expect(p).to.include('owners: Tenant/t1');
    expect(p).to.include('replicas: 3');
    expect(p).to.include('images: nginx:1.27');
    expect(p).to.include('options: propagationPolicy=Foreground');
  });

  it('CONNECT shows container, command and streams', () => {
    const p = preview(execRequest(['sh', '-c', 'rm -rf /data']));
    expect(p).to.equal(['exec prod/web-0', 'container: app', 'command: sh -c "rm -rf /data"', 'streams: stdin, stdout, tty'].join('\n'));
  });
});

describe('preview: bounding', () => {
  it('a huge object is cut to 2 KiB with a marker', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', namespace: 'prod' }, data: { blob: 'x'.repeat(100_000) } };
    const p = preview(request({ operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'configmaps' }, object: cm }));
    expect(bytes(p)).to.be.at.most(PREVIEW_MAX_BYTES);
    expect(p).to.match(/… \[truncated, \d+ more bytes\]$/);
  });

  it('never splits a multi-byte character and respects the byte (not char) limit', () => {
    const text = 'é'.repeat(5000);
    const out = boundBytes(text, 1000);
    expect(bytes(out)).to.be.at.most(1000);
    expect(out).to.not.include('\uFFFD');
    expect(out.startsWith('éé')).to.equal(true);
    expect(boundBytes('short', 1000)).to.equal('short');
  });

  it('a single long value in a diff is clipped, not allowed to fill the preview', () => {
    const r = request({ operation: 'UPDATE', oldObject: { spec: { a: 'x', b: 1 } }, object: { spec: { a: 'y'.repeat(5000), b: 2 } } });
    const p = preview(r);
    expect(p).to.include('spec.b: 1 -> 2');
    expect(bytes(p)).to.be.below(400);
  });
});

describe('preview: Secret redaction', () => {
  const VALUE_B64 = Buffer.from('hunter2-super-secret').toString('base64');
  const PLAIN = 'hunter2-super-secret';
  const NEW_B64 = Buffer.from('correct-horse-battery').toString('base64');

  function assertNoSecret(text: string): void {
    for (const s of [VALUE_B64, PLAIN, NEW_B64, 'correct-horse-battery', 'plain-string-data']) expect(text).to.not.include(s);
  }

  it('CREATE shows keys but no values, including stringData and last-applied', () => {
    const obj = {
      ...secret({ password: VALUE_B64, 'tls.crt': NEW_B64 }, { annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ data: { password: VALUE_B64 } }) } }),
      stringData: { token: 'plain-string-data' },
    };
    const r = secretRequest({ operation: 'CREATE', object: obj });
    const p = preview(r);
    assertNoSecret(p);
    assertNoSecret(summarize(r, 'bot'));
    expect(p).to.include('password: <redacted>');
    expect(p).to.include('tls.crt: <redacted>');
    expect(p).to.include('token: <redacted>');
  });

  it('UPDATE says which keys changed without showing old or new values', () => {
    const r = secretRequest({
      operation: 'UPDATE',
      oldObject: secret({ password: VALUE_B64, same: 'c2FtZQ==' }),
      object: secret({ password: NEW_B64, same: 'c2FtZQ==', added: VALUE_B64 }, { labels: { rotated: 'yes' } }),
    });
    const p = preview(r);
    assertNoSecret(p);
    expect(p).to.include('data.password: <redacted> -> <redacted>');
    expect(p).to.include('data.added: <absent> -> <redacted>');
    expect(p).to.include('metadata.labels: <absent> -> {"rotated":"yes"}');
    expect(p).to.not.include('data.same');
  });

  it('UPDATE that adds the whole data map shows keys only', () => {
    const r = secretRequest({ operation: 'UPDATE', oldObject: secret({}), object: { ...secret({}), data: { a: VALUE_B64 } } });
    const old = secretRequest({ operation: 'UPDATE', oldObject: { ...secret({}), data: undefined }, object: secret({ a: VALUE_B64, b: NEW_B64 }) });
    assertNoSecret(preview(r));
    const p = preview(old);
    assertNoSecret(p);
    expect(p).to.include('data: <absent> -> {"a": <redacted>, "b": <redacted>}');
  });

  it('DELETE lists the keys only', () => {
    const r = secretRequest({ operation: 'DELETE', oldObject: secret({ password: VALUE_B64, user: NEW_B64 }) });
    const p = preview(r);
    assertNoSecret(p);
    expect(p).to.include('keys: password, user');
    expect(p).to.include('type: Opaque');
  });

  it('recognises a Secret by kind even under an unexpected resource', () => {
    const r = request({ operation: 'CREATE', object: secret({ password: VALUE_B64 }) });
    assertNoSecret(preview(r));
  });
});
