import { createHmac, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { objectDigest } from './audit.js';

describe('objectDigest', () => {
  it('is HMAC-SHA256 of the text under the key (short, block-sized, long and non-ASCII keys; empty and non-ASCII text)', () => {
    const keys = ['k', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), randomBytes(200).toString('base64'), 'clé-ß-🔑'];
    // A text past the scratch buffer, one past what it keeps, then short ones again.
    const texts = ['', '{"a":1}', 'données ✓ 🔒', 'q'.repeat(10_000), 'é'.repeat(70_000), '{"b":2}', 'r'.repeat(4033)];
    for (const key of keys) {
      for (const text of texts)
        expect(objectDigest(text, key), `key ${key.length} chars, text ${text.length}`).to.equal(createHmac('sha256', key).update(text, 'utf8').digest('hex'));
    }
    // Alternating keys: the pads remembered for one key never serve another.
    expect(objectDigest('t', 'a')).to.not.equal(objectDigest('t', 'b'));
    expect(objectDigest('t', 'a')).to.equal(createHmac('sha256', 'a').update('t').digest('hex'));
  });
});
