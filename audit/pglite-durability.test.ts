import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataDirSync } from './pglite-durability.js';

describe('PGlite durability: what the worker syncs after a statement', () => {
  let dir: string;
  const seg1 = () => path.join(dir, 'pg_wal', '000000010000000000000001');
  const seg2 = () => path.join(dir, 'pg_wal', '000000010000000000000002');
  const control = () => path.join(dir, 'global', 'pg_control');
  const table = () => path.join(dir, 'base', '5', '16384');
  const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentgate-pglite-sync-'));
    for (const d of ['pg_wal', 'global', path.join('base', '5')]) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(seg1(), 'wal');
    writeFileSync(path.join(dir, 'pg_wal', 'archive_status'), ''); // not a segment: never synced
    writeFileSync(control(), 'control');
    writeFileSync(table(), 'page');
    at(seg1(), 1000);
    at(control(), 1000);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('syncs the WAL segment a commit wrote, and nothing of the data files without a checkpoint', () => {
    const sync = new DataDirSync(dir);
    at(seg1(), 1001);
    expect(sync.sync()).to.deep.equal([seg1()]);
  });

  it('syncs a segment written again within the file system clock tick (mtime unchanged), not older ones', () => {
    writeFileSync(seg2(), 'wal');
    at(seg2(), 500); // a recycled segment: renamed ahead, not written yet
    const sync = new DataDirSync(dir);
    expect(sync.sync()).to.deep.equal([seg1()]);
  });

  it('syncs a new segment and the pg_wal directory that names it', () => {
    const sync = new DataDirSync(dir);
    at(seg1(), 999);
    writeFileSync(seg2(), 'wal');
    expect(sync.sync()).to.deep.equal([seg2(), path.join(dir, 'pg_wal')]);
  });

  it('after a checkpoint (pg_control rewritten) syncs every data file, pg_control last', () => {
    const sync = new DataDirSync(dir);
    at(seg1(), 999);
    at(control(), 1002);
    const synced = sync.sync();
    expect(synced).to.include(table());
    expect(synced.at(-1)).to.equal(control());
    expect(sync.sync(), 'the same checkpoint is not synced twice').to.not.include(table());
  });
});
