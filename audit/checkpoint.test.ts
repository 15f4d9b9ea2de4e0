import { expect } from 'chai';
import { appendEvent, emptyHead } from '../lib/audit-chain.js';
import type { ChainHead } from '../lib/audit-chain.js';
import { acknowledgeRetiredWriter, checkpointKey, checkpointValid, parseCheckpoints, signCheckpoint, verifyCheckpoints } from './checkpoint.js';
import type { WriterState } from './checkpoint.js';

const key = checkpointKey('secret');
const at = new Date('2026-01-01T00:00:00Z');

function chain(writer: string, n: number): { heads: ChainHead[]; hashes: Map<number, string> } {
  let head = emptyHead(writer);
  const heads: ChainHead[] = [];
  const hashes = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const r = appendEvent(head, {
      time: at.toISOString(),
      user: 'u',
      operation: 'CREATE',
      group: '',
      version: 'v1',
      resource: 'configmaps',
      decision: 'Allowed',
      reason: 'r',
      requestUID: `u${i}`,
    });
    head = r.head;
    heads.push(head);
    hashes.set(head.sequence, head.hash);
  }
  return { heads, hashes };
}

function state(writer: string, hashes: Map<number, string>): Map<string, WriterState> {
  const seqs = [...hashes.keys()];
  return new Map([[writer, { writer, first: Math.min(...seqs), last: Math.max(...seqs), hashAt: (s: number) => hashes.get(s) }]]);
}

describe('audit checkpoints', function () {
  it('a checkpoint signed with the key verifies; any other key or a changed field does not', function () {
    const { heads } = chain('w', 3);
    const cp = signCheckpoint(heads[2]!, at, key);
    expect(checkpointValid(cp, key)).to.equal(true);
    expect(checkpointValid(cp, checkpointKey('other'))).to.equal(false);
    expect(checkpointValid({ ...cp, sequence: 2 }, key)).to.equal(false);
  });

  it('an intact record agrees with its checkpoint', function () {
    const { heads, hashes } = chain('w', 5);
    expect(verifyCheckpoints([signCheckpoint(heads[3]!, at, key)], state('w', hashes), key).problems).to.deep.equal([]);
  });

  it('detects the newest events deleted (invisible to the chain alone)', function () {
    const { heads, hashes } = chain('w', 5);
    const cp = signCheckpoint(heads[4]!, at, key);
    hashes.delete(5);
    hashes.delete(4);
    const p = verifyCheckpoints([cp], state('w', hashes), key).problems;
    expect(p).to.have.length(1);
    expect(p[0]).to.include({ kind: 'tail-deleted', writer: 'w', sequence: 4 });
    expect(p[0]!.message).to.contain('events sequence 4..5 are missing (the newest were deleted)');
  });

  it('detects a recomputed chain: the anchored sequence has another hash', function () {
    const { heads } = chain('w', 4);
    const cp = signCheckpoint(heads[2]!, at, key);
    const forged = chain('w', 4).hashes; // same sequences, same content ...
    forged.set(3, 'f'.repeat(64)); // ... but event 3 edited and the chain recomputed from there
    const p = verifyCheckpoints([cp], state('w', forged), key).problems;
    expect(p.map((x) => x.kind)).to.deep.equal(['recomputed']);
  });

  it('refuses a checkpoint someone else wrote, and notices a writer whose events are all gone', function () {
    const { heads, hashes } = chain('w', 2);
    const forged = { ...signCheckpoint(heads[1]!, at, checkpointKey('guess')) };
    expect(verifyCheckpoints([forged], state('w', hashes), key).problems.map((x) => x.kind)).to.deep.equal(['forged-checkpoint']);
    expect(verifyCheckpoints([signCheckpoint(heads[1]!, at, key)], new Map(), key).problems.map((x) => x.kind)).to.deep.equal(['writer-deleted']);
  });

  it('retention past the anchored event is not a problem', function () {
    const { heads, hashes } = chain('w', 6);
    const cp = signCheckpoint(heads[1]!, at, key);
    hashes.delete(1);
    hashes.delete(2);
    expect(verifyCheckpoints([cp], state('w', hashes), key).problems).to.deep.equal([]);
  });

  it('parses the ConfigMap and reports unreadable entries', function () {
    const { heads } = chain('w', 1);
    const r = parseCheckpoints({ w: JSON.stringify(signCheckpoint(heads[0]!, at, key)), bad: '{' });
    expect(r.checkpoints).to.have.length(1);
    expect(r.unreadable).to.deep.equal(['bad']);
  });
});

describe('audit checkpoints: acknowledging a retired writer', function () {
  const by = 'alice';
  const reason = 'old database replaced at the reinstall (CHG-1234)';
  const { heads } = chain('old', 3);
  const cp = signCheckpoint(heads[2]!, at, key);
  const data = { old: JSON.stringify(cp) };
  const ack = (o: Partial<Parameters<typeof acknowledgeRetiredWriter>[0]> = {}) =>
    acknowledgeRetiredWriter({ data, writer: 'old', reason, hasEvents: false, by, at: new Date('2026-02-01T00:00:00Z'), key, ...o });
  const verify = (d: Record<string, string>) => {
    const { checkpoints, acknowledgements } = parseCheckpoints(d);
    return verifyCheckpoints(checkpoints, new Map(), key, acknowledgements);
  };

  it('turns WRITER-DELETED into ACKNOWLEDGED, with who, when and why', function () {
    const entry = ack();
    expect(entry.key).to.equal('old.acknowledged');
    const r = verify({ ...data, [entry.key]: entry.value });
    expect(r.problems).to.deep.equal([]);
    expect(r.acknowledged).to.have.length(1);
    expect(r.acknowledged[0]).to.include({ writer: 'old', sequence: 3, by, at: '2026-02-01T00:00:00.000Z', reason });
    expect(r.acknowledged[0]!.message).to.contain(`acknowledged as retired by alice at 2026-02-01T00:00:00.000Z: ${reason}`);
  });

  it('a later checkpoint of the same writer is not covered: WRITER-DELETED again, saying what the acknowledgement covered', function () {
    const entry = ack();
    const later = signCheckpoint(chain('old', 5).heads[4]!, new Date('2026-03-01T00:00:00Z'), key);
    const r = verify({ old: JSON.stringify(later), [entry.key]: entry.value });
    expect(r.acknowledged).to.deep.equal([]);
    expect(r.problems.map((p) => p.kind)).to.deep.equal(['writer-deleted']);
    expect(r.problems[0]!.message).to.contain('covers its checkpoint of 2026-01-01T00:00:00.000Z, sequence 3, not this later one');
  });

  it('an acknowledgement without a valid HMAC (made without the key, or edited) is a problem and covers nothing', function () {
    const guessed = acknowledgeRetiredWriter({
      data: { old: JSON.stringify(signCheckpoint(heads[2]!, at, checkpointKey('guess'))) },
      writer: 'old',
      reason,
      hasEvents: false,
      by,
      at,
      key: checkpointKey('guess'),
    });
    expect(verify({ ...data, [guessed.key]: guessed.value }).problems.map((p) => p.kind)).to.deep.equal(['forged-acknowledgement', 'writer-deleted']);
    const entry = ack();
    const edited = JSON.stringify({ ...JSON.parse(entry.value), reason: 'something else' });
    const r = verify({ ...data, [entry.key]: edited });
    expect(r.problems.map((p) => p.kind)).to.deep.equal(['forged-acknowledgement', 'writer-deleted']);
    expect(r.acknowledged).to.deep.equal([]);
  });

  it('WRITER-DELETED says how to acknowledge', function () {
    expect(verify(data).problems[0]!.message).to.contain('agentgate audit acknowledge --writer old --reason');
  });

  it('refuses, naming the field and the fix: no reason, no checkpoint of the writer, a forged checkpoint, a writer with events', function () {
    expect(() => ack({ reason: ' ' })).to.throw('--reason is required');
    expect(() => ack({ writer: 'other' }))
      .to.throw('--writer other: ConfigMap agentgate-audit-checkpoints holds no checkpoint of this writer')
      .and.match(/writers with checkpoints: old/);
    expect(() => ack({ data: { old: JSON.stringify({ ...cp, sequence: 9 }) } })).to.throw('FORGED-CHECKPOINT');
    expect(() => ack({ hasEvents: true })).to.throw('the store still holds events of this writer, so it is not retired');
    expect(() => ack({ data: { old: JSON.stringify(signCheckpoint({ writer: 'old', sequence: 0, hash: '0'.repeat(64) }, at, key)) } })).to.throw(
      'anchors no event (sequence 0)',
    );
  });

  it('the ConfigMap entry parses as an acknowledgement, never as a checkpoint; a misplaced one is unreadable', function () {
    const entry = ack();
    const r = parseCheckpoints({ ...data, [entry.key]: entry.value, 'other.acknowledged': entry.value });
    expect(r.checkpoints.map((c) => c.writer)).to.deep.equal(['old']);
    expect(r.acknowledgements.map((a) => a.writer)).to.deep.equal(['old']);
    expect(r.unreadable).to.deep.equal(['other.acknowledged']);
  });
});
