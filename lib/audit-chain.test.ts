import { expect } from 'chai';
import { appendEvent, emptyHead, eventHash, GENESIS_HASH, recoverHead, verifyChain } from './audit-chain.js';
import type { UnchainedSpec } from './audit-chain.js';
import type { AuditEventSpec } from '../api/types.js';

const base = (i: number): UnchainedSpec => ({
  time: `2030-01-01T00:00:${String(i).padStart(2, '0')}Z`,
  agent: 'deploy-bot',
  user: 'agent:deploy-bot',
  operation: 'CREATE',
  group: '',
  version: 'v1',
  resource: 'configmaps',
  namespace: 'prod',
  name: `cm-${i}`,
  decision: 'Allowed',
  reason: 'covered by grant prod/g',
  requestUID: `uid-${i}`,
});

function chain(writer: string, n: number): { metadata: { name: string }; spec: AuditEventSpec }[] {
  let head = emptyHead(writer);
  const out: { metadata: { name: string }; spec: AuditEventSpec }[] = [];
  for (let i = 1; i <= n; i++) {
    const r = appendEvent(head, base(i));
    head = r.head;
    out.push({ metadata: { name: `${writer}-${i}` }, spec: r.spec });
  }
  return out;
}

describe('audit-chain', () => {
  it('links each event to the previous hash, starting at genesis', () => {
    const events = chain('w', 3);
    expect(events[0]!.spec.chain.previousHash).to.equal(GENESIS_HASH);
    expect(events[1]!.spec.chain.previousHash).to.equal(events[0]!.spec.chain.hash);
    expect(events.map((e) => e.spec.chain.sequence)).to.deep.equal([1, 2, 3]);
    expect(eventHash(events[2]!.spec)).to.equal(events[2]!.spec.chain.hash);
  });

  it('verifies an intact chain, in any order', () => {
    const events = chain('w', 5).reverse();
    const r = verifyChain(events);
    expect(r.ok, JSON.stringify(r.problems)).to.equal(true);
    expect(r.writers).to.deep.equal([{ writer: 'w', first: 1, last: 5, count: 5, pruned: false }]);
  });

  it('names a deleted event', () => {
    const events = chain('w', 5);
    events.splice(2, 1); // sequence 3
    const r = verifyChain(events);
    expect(r.ok).to.equal(false);
    expect(r.problems).to.have.length(1);
    expect(r.problems[0]).to.include({ kind: 'missing', writer: 'w', sequence: 3, lastSequence: 3, event: 'w-4' });
    expect(r.problems[0]!.message).to.contain('sequence 3 is missing').and.contain('w-2').and.contain('w-4');
  });

  it('names several deleted events as a range', () => {
    const events = chain('w', 6).filter((e) => ![2, 3, 4].includes(e.spec.chain.sequence));
    const r = verifyChain(events);
    expect(r.problems[0]).to.include({ kind: 'missing', sequence: 2, lastSequence: 4 });
  });

  it('names an altered event', () => {
    const events = chain('w', 4);
    events[1]!.spec.decision = 'Denied';
    const r = verifyChain(events);
    expect(r.ok).to.equal(false);
    expect(r.problems.map((p) => [p.kind, p.event])).to.deep.equal([['altered', 'w-2']]);
    expect(r.problems[0]!.message).to.contain('w-2').and.contain('altered');
  });

  it('detects an event replaced by a re-hashed forgery through the broken link', () => {
    const events = chain('w', 3);
    const forged = { ...events[1]!.spec, reason: 'forged', chain: { ...events[1]!.spec.chain, previousHash: 'f'.repeat(64) } };
    forged.chain.hash = eventHash(forged);
    events[1] = { metadata: { name: 'w-2' }, spec: forged };
    const r = verifyChain(events);
    const kinds = r.problems.map((p) => `${p.kind}:${p.event}`);
    expect(kinds).to.include('broken-link:w-2');
    expect(kinds).to.include('broken-link:w-3');
  });

  it('accepts a head pruned by retention but reports it', () => {
    const events = chain('w', 5).slice(2);
    const r = verifyChain(events);
    expect(r.ok).to.equal(true);
    expect(r.writers[0]).to.include({ first: 3, pruned: true });
  });

  it('keeps writers apart', () => {
    const r = verifyChain([...chain('a', 3), ...chain('b', 2)]);
    expect(r.ok).to.equal(true);
    expect(r.writers.map((w) => w.writer)).to.deep.equal(['a', 'b']);
  });

  it('reports malformed events and duplicates', () => {
    const events = chain('w', 2);
    const r = verifyChain([...events, { metadata: { name: 'junk' } }, { metadata: { name: 'dup' }, spec: events[1]!.spec }]);
    expect(r.problems.map((p) => p.kind).sort()).to.deep.equal(['duplicate', 'malformed']);
  });

  it('recovers the head from what a writer wrote', () => {
    const events = chain('w', 4);
    const head = recoverHead('w', [...events, ...chain('other', 9)]);
    expect(head).to.deep.equal({ writer: 'w', sequence: 4, hash: events[3]!.spec.chain.hash });
    const next = appendEvent(head, base(5));
    expect(verifyChain([...events, { metadata: { name: 'w-5' }, spec: next.spec }]).ok).to.equal(true);
    expect(recoverHead('none', events)).to.deep.equal(emptyHead('none'));
  });
});
