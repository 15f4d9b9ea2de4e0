import { expect } from 'chai';
import type { AdmissionRequest, JsonObject } from './admission.js';
import { canonicalObject, canonicalize, fingerprint, fingerprintInput, jsonEqual, LAST_APPLIED_ANNOTATION, stableStringify } from './fingerprint.js';

function deployment(replicas: number, meta: JsonObject = {}): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'prod', labels: { app: 'web' }, ...meta },
    spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
    status: { replicas: 3, readyReplicas: 3 },
  };
}

function update(object: JsonObject, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'req-1',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    namespace: 'prod',
    name: 'web',
    operation: 'UPDATE',
    userInfo: { username: 'agent-a', groups: ['agents'] },
    object,
    oldObject: deployment(3, { resourceVersion: '1' }),
    ...over,
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

describe('fingerprint: canonicalize', () => {
  it('drops volatile metadata, status and the last-applied annotation', () => {
    const obj = deployment(3, {
      resourceVersion: '42',
      uid: 'abc',
      generation: 7,
      creationTimestamp: '2024-01-01T00:00:00Z',
      managedFields: [{ manager: 'kubectl' }],
      selfLink: '/x',
      deletionTimestamp: '2024-01-02T00:00:00Z',
      deletionGracePeriodSeconds: 30,
      annotations: { [LAST_APPLIED_ANNOTATION]: '{"big":"blob"}', keep: 'me' },
    });
    const c = canonicalObject(obj) as JsonObject;
    expect(c).to.not.have.property('status');
    expect(c['metadata']).to.deep.equal({ name: 'web', namespace: 'prod', labels: { app: 'web' }, annotations: { keep: 'me' } });
    expect(obj['status'], 'input untouched').to.exist;
  });

  it('drops annotations emptied by the removal', () => {
    const c = canonicalObject(deployment(1, { annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } })) as JsonObject;
    expect(c['metadata']).to.not.have.property('annotations');
  });

  it('keeps status when asked (status subresource)', () => {
    expect(canonicalObject(deployment(1), { keepStatus: true })).to.have.property('status');
  });

  it('sorts keys at every level and is independent of insertion order', () => {
    const a = canonicalize({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } });
    const b = canonicalize({ a: { c: null, d: [{ x: 2, y: 1 }] }, b: 1 });
    expect(a).to.equal(b);
    expect(a).to.equal('{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}');
  });

  it('drops undefined properties like JSON does', () => {
    expect(canonicalize({ a: undefined, b: 1 })).to.equal('{"b":1}');
  });

  // The texts are hashed into fingerprints (approvals match on them) and the audit chain:
  // they were recorded from the implementation that cloned the object first, and must not move.
  it('renders exactly the text it always did, non-JSON values included', () => {
    const mixed = { z: [1, undefined, null, 'é', { b: -0, a: NaN }], É: true, f: () => 1, n: 10n, s: Symbol('x'), u: undefined, d: 1e21, neg: -1.5 };
    expect(stableStringify(mixed)).to.equal('{"d":1e+21,"f":null,"n":"10","neg":-1.5,"s":null,"z":[1,null,null,"é",{"a":null,"b":0}],"É":true}');
    expect(canonicalize(mixed)).to.equal('{"d":1e+21,"n":"10","neg":-1.5,"z":[1,null,null,"é",{"a":null,"b":0}],"É":true}');
    const pod = {
      kind: 'Pod',
      status: { phase: 'Running' },
      spec: { a: [undefined, () => 1], f: () => 2 },
      metadata: {
        name: 'p',
        uid: 'u',
        resourceVersion: '1',
        annotations: { [LAST_APPLIED_ANNOTATION]: '{}', x: undefined, g: () => 1 },
        labels: { b: '2', a: '1' },
      },
    };
    expect(canonicalize(pod)).to.equal('{"kind":"Pod","metadata":{"labels":{"a":"1","b":"2"},"name":"p"},"spec":{"a":[null,null]}}');
    expect(canonicalize(pod, { keepStatus: true })).to.equal(
      '{"kind":"Pod","metadata":{"labels":{"a":"1","b":"2"},"name":"p"},"spec":{"a":[null,null]},"status":{"phase":"Running"}}',
    );
    expect(pod.metadata.uid, 'input untouched').to.equal('u');
  });

  it('quotes strings as JSON.stringify does, escapes and lone surrogates included', () => {
    const strings = [
      'plain',
      'quo"te',
      'back\\slash',
      'new\nline',
      '\u0000\u001f',
      '\u007f',
      'sep\u2028\u2029',
      'emoji 😀',
      'lone \ud800',
      'low \udc00 x',
      'é',
      '',
    ];
    for (const s of strings) {
      expect(stableStringify(s), JSON.stringify(s)).to.equal(JSON.stringify(s));
      expect(stableStringify({ [s]: s }), JSON.stringify(s)).to.equal(`{${JSON.stringify(s)}:${JSON.stringify(s)}}`);
    }
  });

  // Keys already in order are walked with for-in, others sorted in place: both must give
  // Object.keys(...).sort()'s order and only own keys, and a call made while one is
  // rendering (its text is built in a shared scratch) must not mix into it.
  it('orders keys as Object.keys(...).sort() does, own keys only, nested calls apart', () => {
    const reference = (v: unknown): string =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`)
            .join(',')}}`
        : Array.isArray(v)
          ? `[${v.map(reference).join(',')}]`
          : JSON.stringify(v);
    const values = [
      { '10': 1, '9': 2, a: 3, B: 4, _: 5, '': 6 },
      { a: 1, b: { d: 1, c: 2 }, c: [{ z: 1, y: [{ b: 1, a: 2 }] }] },
      { 'a"b': 1, 'a b': 2, ab: 3, é: 4, e: 5 },
      Object.assign(Object.create({ inherited: 1 }), { b: 2, a: 1 }),
      Object.assign(Object.create({ inherited: 1 }), { a: 1, b: 2 }),
    ];
    for (const v of values) expect(stableStringify(v)).to.equal(reference(v));
    const nested = {
      a: 1,
      get b() {
        return stableStringify({ y: 1, x: 2 });
      },
    };
    expect(stableStringify(nested)).to.equal(`{"a":1,"b":${JSON.stringify('{"x":2,"y":1}')}}`);
    expect(stableStringify({ c: 1 })).to.equal('{"c":1}');
  });

  it('renders what canonicalObject keeps', () => {
    const obj = deployment(3, { resourceVersion: '4', annotations: { keep: 'me', [LAST_APPLIED_ANNOTATION]: '{}' } });
    expect(canonicalize(obj)).to.equal(stableStringify(canonicalObject(obj)));
    expect(canonicalize(obj, { keepStatus: true })).to.equal(stableStringify(canonicalObject(obj, { keepStatus: true })));
  });
});

describe('fingerprint: stability', () => {
  it('is a 64-hex sha256', () => {
    expect(fingerprint(update(deployment(0)))).to.match(HEX64);
  });

  it('a retry with a new uid, resourceVersion, managedFields or status gets the same fingerprint', () => {
    const first = update(deployment(0, { resourceVersion: '100', managedFields: [{ manager: 'a', time: 't1' }] }), { uid: 'req-1' });
    const retry = update(
      {
        ...deployment(0, { resourceVersion: '105', managedFields: [{ manager: 'b', time: 't2' }], generation: 9, uid: 'x' }),
        status: { replicas: 1 },
      },
      { uid: 'req-2', oldObject: deployment(3, { resourceVersion: '104' }) },
    );
    expect(fingerprint(retry)).to.equal(fingerprint(first));
  });

  it('is independent of key order in the object', () => {
    const o = deployment(0);
    const reordered = Object.fromEntries(Object.entries(o).reverse());
    expect(fingerprint(update(reordered))).to.equal(fingerprint(update(o)));
  });

  it('ignores dryRun so a dry run names the same operation as the real one', () => {
    expect(fingerprint(update(deployment(0), { dryRun: true }))).to.equal(fingerprint(update(deployment(0))));
  });

  it('changes with replicas, name, namespace, user, operation, resource or subresource', () => {
    const base = fingerprint(update(deployment(0)));
    const variants: AdmissionRequest[] = [
      update(deployment(1)),
      update(deployment(0), { name: 'web2' }),
      update(deployment(0), { namespace: 'dev' }),
      update(deployment(0), { userInfo: { username: 'agent-b', groups: ['agents'] } }),
      update(deployment(0), { operation: 'CREATE' }),
      update(deployment(0), { resource: { group: 'apps', version: 'v1', resource: 'statefulsets' } }),
      update(deployment(0), { subResource: 'scale' }),
      update(deployment(0, { labels: { app: 'web', x: 'y' } })),
    ];
    const fps = variants.map((r) => fingerprint(r));
    for (const fp of fps) expect(fp).to.not.equal(base);
    expect(new Set(fps).size).to.equal(fps.length);
  });

  it('an HMAC key gives a different, still deterministic fingerprint', () => {
    const r = update(deployment(0));
    const keyed = fingerprint(r, { key: 'k1' });
    expect(keyed).to.match(HEX64);
    expect(keyed).to.not.equal(fingerprint(r));
    expect(fingerprint(r, { key: 'k1' })).to.equal(keyed);
    expect(fingerprint(r, { key: 'k2' })).to.not.equal(keyed);
  });

  it('status updates keep the status in the fingerprint', () => {
    const a = update({ ...deployment(0), status: { replicas: 1 } }, { subResource: 'status' });
    const b = update({ ...deployment(0), status: { replicas: 2 } }, { subResource: 'status' });
    expect(fingerprint(a)).to.not.equal(fingerprint(b));
  });
});

describe('fingerprint: CREATE', () => {
  function create(object: JsonObject, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
    return update(object, { operation: 'CREATE', oldObject: null, ...over });
  }

  it('generateName: the random name does not count, the prefix does', () => {
    const pod = (name: string, prefix = 'job-'): JsonObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, generateName: prefix, namespace: 'prod', uid: name },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    const r = (o: JsonObject): AdmissionRequest =>
      create(o, { name: '', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' } });
    expect(fingerprint(r(pod('job-abcde')))).to.equal(fingerprint(r(pod('job-xyz12'))));
    expect(fingerprint(r(pod('other-abcde', 'other-')))).to.not.equal(fingerprint(r(pod('job-abcde'))));
  });

  it('pods: the ServiceAccount token volume suffix does not count', () => {
    const pod = (suffix: string): JsonObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'debug', namespace: 'prod' },
      spec: {
        containers: [
          { name: 'c', image: 'busybox', volumeMounts: [{ name: `kube-api-access-${suffix}`, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] },
        ],
        volumes: [{ name: `kube-api-access-${suffix}`, projected: { sources: [] } }],
      },
    });
    const r = (o: JsonObject): AdmissionRequest =>
      create(o, { name: 'debug', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' } });
    expect(fingerprint(r(pod('abc12')))).to.equal(fingerprint(r(pod('zz9x8'))));
  });

  it('services: allocated cluster IPs and node ports do not count; headless does', () => {
    const svc = (ip: string, nodePort: number): JsonObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'prod' },
      spec: { type: 'NodePort', clusterIP: ip, clusterIPs: [ip], ports: [{ port: 80, nodePort }] },
    });
    const r = (o: JsonObject): AdmissionRequest =>
      create(o, { kind: { group: '', version: 'v1', kind: 'Service' }, resource: { group: '', version: 'v1', resource: 'services' } });
    expect(fingerprint(r(svc('10.0.0.1', 30001)))).to.equal(fingerprint(r(svc('10.0.0.9', 30002))));
    expect(fingerprint(r(svc('None', 30001)))).to.not.equal(fingerprint(r(svc('10.0.0.1', 30001))));
  });
});

describe('fingerprint: DELETE', () => {
  function del(uid: string, options: JsonObject | null = { propagationPolicy: 'Background' }): AdmissionRequest {
    return update(deployment(3), {
      operation: 'DELETE',
      object: null,
      oldObject: deployment(3, { uid, resourceVersion: String(Math.random()) }),
      options,
    });
  }

  it('the same object (uid) gives the same fingerprint, whatever its resourceVersion', () => {
    expect(fingerprint(del('uid-1'))).to.equal(fingerprint(del('uid-1')));
  });

  it('a recreated object (new uid) gives a different fingerprint', () => {
    expect(fingerprint(del('uid-2'))).to.not.equal(fingerprint(del('uid-1')));
  });

  it('cascade and force options count', () => {
    const base = fingerprint(del('uid-1'));
    expect(fingerprint(del('uid-1', { propagationPolicy: 'Orphan' }))).to.not.equal(base);
    expect(fingerprint(del('uid-1', { propagationPolicy: 'Background', gracePeriodSeconds: 0 }))).to.not.equal(base);
  });

  it('the object body other than identity does not count', () => {
    const a = del('uid-1');
    const b = { ...del('uid-1'), oldObject: { ...deployment(7, { uid: 'uid-1' }) } };
    expect(fingerprint(b)).to.equal(fingerprint(a));
  });
});

describe('fingerprint: CONNECT', () => {
  function exec(command: string[], opts: JsonObject = {}): AdmissionRequest {
    return {
      uid: 'c1',
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      namespace: 'prod',
      name: 'web-0',
      operation: 'CONNECT',
      userInfo: { username: 'agent-a' },
      object: { kind: 'PodExecOptions', apiVersion: 'v1', stdin: true, stdout: true, stderr: true, tty: true, container: 'app', command, ...opts },
    };
  }

  it('same command and options give the same fingerprint on retry', () => {
    expect(fingerprint({ ...exec(['sh']), uid: 'c2' })).to.equal(fingerprint(exec(['sh'])));
  });

  it('command, container and tty count', () => {
    const base = fingerprint(exec(['sh', '-c', 'ls']));
    expect(fingerprint(exec(['sh', '-c', 'rm -rf /']))).to.not.equal(base);
    expect(fingerprint(exec(['sh', '-c', 'ls'], { container: 'sidecar' }))).to.not.equal(base);
    expect(fingerprint(exec(['sh', '-c', 'ls'], { tty: false }))).to.not.equal(base);
    expect(fingerprint(exec(['sh', '-c ls']))).to.not.equal(base);
  });

  it('the fingerprint input shows the options without apiVersion/kind', () => {
    const input = JSON.parse(fingerprintInput(exec(['id']))) as JsonObject;
    expect(input['object']).to.deep.equal({ command: ['id'], container: 'app', stderr: true, stdin: true, stdout: true, tty: true });
  });
});

describe('jsonEqual', () => {
  it('answers exactly whether stableStringify renders the two values alike, over every pair of a set of tricky values', () => {
    const values: unknown[] = [
      0,
      -0,
      1,
      '1',
      1n,
      NaN,
      Infinity,
      null,
      undefined,
      () => 1,
      Symbol('x'),
      true,
      false,
      'é',
      '',
      [],
      [null],
      [undefined],
      [1, 2],
      [2, 1],
      {},
      new Date(0),
      { a: undefined },
      { a: null },
      { a: 1, b: 2 },
      { b: 2, a: 1 },
      { a: 1, b: 2, c: undefined },
      { a: 1 },
      Object.assign(Object.create({ b: 2 }), { a: 1 }),
      { a: [{ y: 1, x: 2 }] },
      { a: [{ x: 2, y: 1 }] },
      { a: [{ x: 2, y: '1' }] },
      { conditions: [{ type: 'Active', status: 'True', observedGeneration: 1 }], phase: 'Active' },
      { phase: 'Active', conditions: [{ observedGeneration: 1, status: 'True', type: 'Active' }] },
      { phase: 'Active', conditions: [{ observedGeneration: 2, status: 'True', type: 'Active' }] },
    ];
    let equalPairs = 0;
    for (const a of values) {
      for (const b of values) {
        const want = stableStringify(a) === stableStringify(b);
        if (want) equalPairs++;
        expect(jsonEqual(a, b), `${stableStringify(a)} vs ${stableStringify(b)}`).to.equal(want);
      }
    }
    // Not only the diagonal: 0/-0, the nulls, 1n/'1', key orders, undefined members.
    expect(equalPairs).to.be.greaterThan(values.length + 20);
  });
});
