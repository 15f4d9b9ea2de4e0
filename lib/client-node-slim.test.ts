import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from './client-node-slim.js';

// client-node's package has no exports map, so its files are reachable by path.
const configPath = createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/config.js');
const configUrl = pathToFileURL(configPath).href;
const passOn = (specifier: string) => ({ url: `next:${specifier}` });

describe('client-node without its generated API', function () {
  it('answers config.js with exactly the names config.js imports from the generated index', async function () {
    const imported = /import\s*\{([^}]*)\}\s*from\s*'\.\/gen\/index\.js'/.exec(readFileSync(configPath, 'utf8'));
    expect(imported, "config.js's import of ./gen/index.js (a client-node upgrade changed it: update lib/client-node-slim.ts)").to.not.equal(null);
    const names = imported![1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .sort();
    const r = resolve('./gen/index.js', { parentURL: configUrl }, passOn);
    expect(r.url).to.match(/^data:text\/javascript,/);
    const shim = (await import(r.url)) as Record<string, unknown>;
    expect(Object.keys(shim).sort()).to.deep.equal(names);
    for (const n of names) expect(shim[n], n).to.be.a('function');
  });

  // The hook only helps while the programs import client-node's modules one by one: one
  // import of the package's index (or of a generated API class) loads it all again.
  it("keeps the operator's and the webhook's import graphs to KubeConfig, Watch and types", function () {
    const dist = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
    const allowed = ['@kubernetes/client-node/dist/config.js', '@kubernetes/client-node/dist/types.js', '@kubernetes/client-node/dist/watch.js'];
    for (const program of ['operator/run.js', 'webhook/run.js']) {
      const used = new Set<string>();
      const seen = new Set<string>();
      const queue = [path.join(dist, program)];
      while (queue.length) {
        const file = queue.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        // Value imports only (tsc erases `import type`): static, re-exports and dynamic import('...').
        for (const m of readFileSync(file, 'utf8').matchAll(/(?:^(?:import|export)\s[^'"]*?from\s*|^import\s*|import\(\s*)'([^']+)'/gm)) {
          const spec = m[1]!;
          if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
          else if (spec.startsWith('@kubernetes/client-node')) used.add(`${spec}  (${path.relative(dist, file)})`);
        }
      }
      expect(seen.size, program).to.be.greaterThan(10);
      const outside = [...used].filter((u) => !allowed.includes(u.split('  ')[0]!));
      expect(outside, `${program} imports client-node beyond ${allowed.join(', ')}: import the module you need by path, types with import type`).to.deep.equal(
        [],
      );
    }
  });

  it('passes every other import on unchanged', function () {
    expect(resolve('./gen/index.js', { parentURL: configUrl.replace('config.js', 'api.js') }, passOn)).to.deep.equal({ url: 'next:./gen/index.js' });
    expect(resolve('./config.js', { parentURL: configUrl }, passOn)).to.deep.equal({ url: 'next:./config.js' });
  });
});
