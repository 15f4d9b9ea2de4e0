// Writes api/generated.ts from crds/. Run after changing a CRD: npm run build && node dist/api/typegen-main.js
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateTypes } from './typegen.js';
import { crdDir } from './crds.js';

const target = path.join(crdDir, '..', 'api', 'generated.ts');
writeFileSync(target, generateTypes());
console.log(`wrote ${target}`);
