import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { validateObject, pointerToField, formatErrors } from './validate.js';
import { crdDir } from './crds.js';

const repo = path.join(crdDir, '..');

function docs(file: string): Array<{ kind: string }> {
  return yaml.loadAll(readFileSync(file, 'utf8')) as Array<{ kind: string }>;
}

describe('api validators (ajv over the CRD schemas)', function () {
  it('accept every example manifest', function () {
    const dir = path.join(repo, 'examples');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      for (const d of docs(path.join(dir, f))) {
        if (!d.kind || d.kind === 'Namespace') continue;
        expect(validateObject(d.kind, d), `${f}: ${formatErrors(validateObject(d.kind, d))}`).to.deep.equal([]);
      }
    }
  });

  // The bad fixtures the schema alone can catch (the rest are CEL rules the apiserver runs).
  const schemaLevel: Record<string, string> = {
    'missing-reason.yaml': 'spec.reason',
    'negative-duration.yaml': 'spec.duration',
    'unparsable-duration.yaml': 'spec.duration',
    'unknown-role-kind.yaml': 'spec.roleRef.kind',
    'missing-agent.yaml': 'spec.agent',
    'bad-activation.yaml': 'spec.activation',
    'bad-rule-action.yaml': 'spec.approvalRules[0].action',
    'agent-no-subjects.yaml': 'spec.subjects',
    'agent-zero-approvals.yaml': 'spec.requiredApprovals',
  };
  for (const [file, field] of Object.entries(schemaLevel)) {
    it(`reject ${file}, naming ${field}`, function () {
      const [d] = docs(path.join(repo, 'e2e', 'fixtures', 'bad', file));
      const errors = validateObject(d!.kind, d);
      expect(errors.map((e) => e.field)).to.include(field);
    });
  }

  it('names unknown fields and says how to fix them', function () {
    const errors = validateObject('AccessGrant', {
      apiVersion: 'agentgate.io/v1alpha1',
      kind: 'AccessGrant',
      metadata: { name: 'x' },
      spec: { agent: 'a', roleRef: { kind: 'ClusterRole', name: 'edit' }, duration: '1h', reason: 'r', durration: '2h' },
    });
    expect(errors).to.have.length(1);
    expect(errors[0]!.field).to.equal('spec.durration');
    expect(errors[0]!.message).to.contain('unknown field');
  });

  it('turns JSON pointers into kubectl-style field paths', function () {
    expect(pointerToField('/spec/subjects/0/namespace')).to.equal('spec.subjects[0].namespace');
    expect(pointerToField('')).to.equal('');
  });
});
