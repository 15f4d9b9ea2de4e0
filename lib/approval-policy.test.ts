import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { fileURLToPath } from 'node:url';
import { approvalPolicyObjects, approvalPolicyProblems, approvalPolicyState, APPROVAL_POLICY, policyEpochChanges } from './approval-policy.js';
import type { LiveBinding, LivePolicy } from './approval-policy.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('lib/approval-policy', () => {
  const shipped = () => approvalPolicyObjects() as unknown as { policy: LivePolicy; binding: LiveBinding };

  it('config/admission/approval-stamps.yaml is exactly the policy the operator checks for (one home)', () => {
    const docs = yaml.loadAll(readFileSync(path.join(repoRoot, 'config', 'admission', 'approval-stamps.yaml'), 'utf8')).filter(Boolean);
    const o = approvalPolicyObjects();
    expect(docs).to.deep.equal([o.policy, o.binding]);
  });

  it('the shipped objects are in force', () => {
    const { policy, binding } = shipped();
    expect(approvalPolicyProblems(policy, binding)).to.deep.equal([]);
  });

  it('the epoch is the apiserver-set uid and generation of both objects, only while the policy is in force', () => {
    const { policy, binding } = shipped();
    const live = (p: LivePolicy, b: LiveBinding) => approvalPolicyState(p, b);
    const p = { ...policy, metadata: { uid: 'p1', generation: 2 } };
    const b = { ...binding, metadata: { uid: 'b1', generation: 1 } };
    expect(live(p, b)).to.deep.equal({ problems: [], epoch: { policyUID: 'p1', policyGeneration: 2, bindingUID: 'b1', bindingGeneration: 1 } });
    expect(approvalPolicyState(p, undefined).epoch).to.equal(undefined);
    expect(live(policy, binding).problems.join()).to.contain('no metadata.uid or metadata.generation');
    const e = live(p, b).epoch!;
    expect(policyEpochChanges(e, e)).to.deep.equal([]);
    expect(policyEpochChanges(e, { ...e, policyUID: 'p2', policyGeneration: 1 })).to.deep.equal([
      `ValidatingAdmissionPolicy ${APPROVAL_POLICY} was deleted and recreated since (uid p1, now p2)`,
    ]);
    expect(policyEpochChanges(e, { ...e, bindingGeneration: 2 })).to.deep.equal([
      `ValidatingAdmissionPolicyBinding ${APPROVAL_POLICY} was changed since (generation 1, now 2)`,
    ]);
  });

  it('fails closed on a missing policy or binding, Warn-only, Ignore, narrowed matches or edited expressions', () => {
    const { policy, binding } = shipped();
    const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
    expect(approvalPolicyProblems(undefined, binding).join()).to.contain(`${APPROVAL_POLICY} does not exist`);
    expect(approvalPolicyProblems(policy, undefined).join()).to.contain('not enforced');
    const warn = clone(binding);
    warn.spec!.validationActions = ['Warn', 'Audit'];
    expect(approvalPolicyProblems(policy, warn).join()).to.contain('does not Deny');
    const ignore = clone(policy);
    ignore.spec!.failurePolicy = 'Ignore';
    expect(approvalPolicyProblems(ignore, binding).join()).to.contain('failurePolicy Ignore');
    const narrowed = clone(policy);
    narrowed.spec!.matchConstraints!.namespaceSelector = { matchLabels: { audited: 'yes' } };
    expect(approvalPolicyProblems(narrowed, binding).join()).to.contain('narrows');
    const edited = clone(policy);
    edited.spec!.validations![0]!.expression = 'true';
    expect(approvalPolicyProblems(edited, binding).join()).to.contain("does not carry agentgate's validations");
    const createOnly = clone(policy);
    createOnly.spec!.matchConstraints!.resourceRules![0]!.operations = ['CREATE'];
    expect(approvalPolicyProblems(createOnly, binding).join()).to.contain('CREATE and UPDATE');
  });
});
