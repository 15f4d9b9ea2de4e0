import { expect } from 'chai';
import { appendEvent, emptyHead } from '../lib/audit-chain.js';
import type { ChainHead } from '../lib/audit-chain.js';
import { checkpointKey, checkpointValid, parseCheckpoints, signCheckpoint, verifyCheckpoints } from './checkpoint.js';
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
    expect(verifyCheckpoints([signCheckpoint(heads[3]!, at, key)], state('w', hashes), key)).to.deep.equal([]);
  });

  it('detects the newest events deleted (invisible to the chain alone)', function () {
    const { heads, hashes } = chain('w', 5);
    const cp = signCheckpoint(heads[4]!, at, key);
    hashes.delete(5);
    hashes.delete(4);
    const p = verifyCheckpoints([cp], state('w', hashes), key);
    expect(p).to.have.length(1);
    expect(p[0]).to.include({ kind: 'tail-deleted', writer: 'w', sequence: 4 });
    expect(p[0]!.message).to.contain('events sequence 4..5 are missing (the newest were deleted)');
  });

  it('detects a recomputed chain: the anchored sequence has another hash', function () {
    const { heads } = chain('w', 4);
    const cp = signCheckpoint(heads[2]!, at, key);
    const forged = chain('w', 4).hashes; // same sequences, same content ...
    forged.set(3, 'f'.repeat(64)); // ... but event 3 edited and the chain recomputed from there
    const p = verifyCheckpoints([cp], state('w', forged), key);
    expect(p.map((x) => x.kind)).to.deep.equal(['recomputed']);
  });

  it('refuses a checkpoint someone else wrote, and notices a writer whose events are all gone', function () {
    const { heads, hashes } = chain('w', 2);
    const forged = { ...signCheckpoint(heads[1]!, at, checkpointKey('guess')) };
    expect(verifyCheckpoints([forged], state('w', hashes), key).map((x) => x.kind)).to.deep.equal(['forged-checkpoint']);
    expect(verifyCheckpoints([signCheckpoint(heads[1]!, at, key)], new Map(), key).map((x) => x.kind)).to.deep.equal(['writer-deleted']);
  });

  it('retention past the anchored event is not a problem', function () {
    const { heads, hashes } = chain('w', 6);
    const cp = signCheckpoint(heads[1]!, at, key);
    hashes.delete(1);
    hashes.delete(2);
    expect(verifyCheckpoints([cp], state('w', hashes), key)).to.deep.equal([]);
  });

  it('parses the ConfigMap and reports unreadable entries', function () {
    const { heads } = chain('w', 1);
    const r = parseCheckpoints({ w: JSON.stringify(signCheckpoint(heads[0]!, at, key)), bad: '{' });
    expect(r.checkpoints).to.have.length(1);
    expect(r.unreadable).to.deep.equal(['bad']);
  });
});
