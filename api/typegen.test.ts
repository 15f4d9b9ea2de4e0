import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generateTypes } from './typegen.js';
import { crdDir } from './crds.js';

describe('api types', function () {
  it('api/generated.ts is what the CRDs generate (run node dist/api/typegen-main.js if not)', function () {
    const committed = readFileSync(path.join(crdDir, '..', 'api', 'generated.ts'), 'utf8');
    expect(committed).to.equal(generateTypes());
  });
});
