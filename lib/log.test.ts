import { expect } from 'chai';
import { redact } from './log.js';

describe('log redaction', function () {
  it('hides credential-bearing fields at any depth and keeps the rest', function () {
    const out = redact({ user: 'a', token: 'abc', nested: { authorization: 'Bearer x', secret: { data: { k: 'v' } }, ok: 1 } }) as {
      user: string;
      token: string;
      nested: Record<string, unknown>;
    };
    expect(out.user).to.equal('a');
    expect(out.token).to.equal('[redacted]');
    expect(out.nested.authorization).to.equal('[redacted]');
    expect(out.nested.secret).to.equal('[redacted]');
    expect(out.nested.ok).to.equal(1);
  });
});
