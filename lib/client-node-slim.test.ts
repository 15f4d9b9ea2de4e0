import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
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

  it('passes every other import on unchanged', function () {
    expect(resolve('./gen/index.js', { parentURL: configUrl.replace('config.js', 'api.js') }, passOn)).to.deep.equal({ url: 'next:./gen/index.js' });
    expect(resolve('./config.js', { parentURL: configUrl }, passOn)).to.deep.equal({ url: 'next:./config.js' });
  });
});
