import { expect } from 'chai';
import { addFieldSelector, addLabelSelector, SelectorError, whereSql } from './selectors.js';
import type { Where } from './selectors.js';

const w = (): Where => ({ clauses: [], params: [] });

describe('audit selectors', function () {
  it('maps label requirements to columns, parameterised', function () {
    const q = w();
    addLabelSelector(q, 'agentgate.io/agent=deploy-bot,agentgate.io/decision in (Denied,Held),!agentgate.io/nothing', 'agentgate');
    expect(whereSql(q)).to.equal("WHERE (agent <> '' AND agent = ANY($1::text[])) AND (TRUE AND decision = ANY($2::text[]))");
    expect(q.params).to.deep.equal([['deploy-bot'], ['Denied', 'Held']]);
  });

  it('a requirement on a label no record carries matches nothing; its absence matches all', function () {
    const q = w();
    addLabelSelector(q, 'team=payments', 'agentgate');
    expect(q.clauses).to.deep.equal(['FALSE']);
    const r = w();
    addLabelSelector(r, 'app.kubernetes.io/managed-by=agentgate', 'agentgate');
    expect(r.clauses).to.deep.equal([]);
  });

  it('!= and notin exclude, and records without an agent have no agent label', function () {
    const q = w();
    addLabelSelector(q, 'agentgate.io/agent!=a,agentgate.io/agent', 'agentgate');
    expect(q.clauses).to.deep.equal(["NOT (agent <> '' AND agent = ANY($1::text[]))", "agent <> ''"]);
  });

  it('field selectors: equality on known fields, a time range on spec.time', function () {
    const q = w();
    addFieldSelector(q, 'spec.operation=DELETE,spec.namespace!=kube-system,spec.time>=2026-01-02T03:04:05Z,spec.time<2026-01-03T00:00:00Z', 'agentgate-system');
    expect(q.clauses).to.deep.equal(['operation = $1', 'namespace <> $2', 'time >= $3::timestamptz', 'time < $4::timestamptz']);
    expect(q.params).to.deep.equal(['DELETE', 'kube-system', '2026-01-02T03:04:05.000Z', '2026-01-03T00:00:00.000Z']);
  });

  it('refuses unknown fields and bad times with a message naming the fix', function () {
    expect(() => addFieldSelector(w(), 'spec.colour=red', 'ns'))
      .to.throw(SelectorError, 'spec.colour')
      .and.match(/use one of .*spec.agent/);
    expect(() => addFieldSelector(w(), 'spec.time>=yesterday', 'ns')).to.throw(SelectorError, 'RFC 3339');
    expect(() => addFieldSelector(w(), 'spec.agent>=a', 'ns')).to.throw(SelectorError, 'only =, == and !=');
    expect(() => addLabelSelector(w(), 'a in b', 'agentgate')).to.throw(SelectorError, 'unable to parse');
  });

  it('metadata.namespace selects the one namespace records live in', function () {
    const q = w();
    addFieldSelector(q, 'metadata.namespace=agentgate-system', 'agentgate-system');
    expect(q.clauses).to.deep.equal([]);
    const r = w();
    addFieldSelector(r, 'metadata.namespace=default', 'agentgate-system');
    expect(r.clauses).to.deep.equal(['FALSE']);
  });

  it('a value cannot break out of its parameter', function () {
    const q = w();
    addFieldSelector(q, "spec.agent=x' OR 1=1 --", 'ns');
    expect(q.clauses).to.deep.equal(['agent = $1']);
    expect(q.params).to.deep.equal(["x' OR 1=1 --"]);
  });
});
