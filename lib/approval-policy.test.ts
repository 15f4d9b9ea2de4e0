import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { fileURLToPath } from 'node:url';
import { approvalPolicyObjects, approvalPolicyProblems, APPROVAL_POLICY } from './approval-policy.js';
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
