import { expect } from 'chai';
import { loadCrds } from './crds.js';

// kubectl renders a `date` printer column as an age ("5m"): a time in the future prints as
// `<invalid>`. So `date` is only for times that are always past; a deadline (expiresAt,
// validUntil, notAfter…) is a `string` column and shows the RFC 3339 time itself.
const ALWAYS_PAST = new Set(['.metadata.creationTimestamp']);

describe('CRD printer columns', () => {
  const columns = [...loadCrds().values()].flatMap((crd) =>
    crd.spec.versions.flatMap((v) => (v.additionalPrinterColumns ?? []).map((c) => ({ kind: crd.spec.names.kind, ...c }))),
  );

  it('has columns to check', () => {
    expect(columns.filter((c) => c.name === 'Expires').map((c) => c.kind)).to.include.members(['AccessGrant', 'ApprovalRequest']);
  });

  it('uses type date only for times that are always in the past', () => {
    const misused = columns.filter((c) => c.type === 'date' && !ALWAYS_PAST.has(c.jsonPath));
    expect(misused.map((c) => `${c.kind} ${c.name} (${c.jsonPath})`)).to.deep.equal([]);
  });

  it('shows deadlines as the time itself', () => {
    for (const c of columns.filter((c) => c.name === 'Expires')) expect(c, `${c.kind} ${c.name}`).to.include({ type: 'string' });
  });
});
