// PGlite reaches its files through Emscripten's Node filesystem, which has no fsync: with
// PGlite's default `-F` or without it, PostgreSQL's own flushes end in the kernel's page
// cache, so a record whose admission was answered survives the webhook's crash but not the
// node's (power loss, kernel panic). The PGlite worker calls sync() after every statement,
// before its answer leaves the worker, and so restores what a PostgreSQL commit promises:
//  - the WAL segments written since the last sync are fdatasync'd (a commit is durable
//    once its WAL is; recovery rebuilds the data pages from it), and pg_wal itself when a
//    segment appeared (its directory entry);
//  - after a checkpoint (pg_control rewritten), every file of the data directory, then
//    pg_control: a checkpoint lets PostgreSQL recycle the WAL that covered those pages.
//    The checkpoint ran inside the statement that just ended, so a node crash in the few
//    milliseconds between its recycle and this sync can still lose pages; checkpoints come
//    every checkpoint_timeout (5 min) or at max_wal_size, and a production store is
//    PostgreSQL (README: where records live).
import { closeSync, fdatasyncSync, fsyncSync, openSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const WAL_SEGMENT = /^[0-9A-F]{24}$/;

function syncFile(file: string, data = true): void {
  const fd = openSync(file, 'r');
  try {
    if (data) fdatasyncSync(fd);
    else fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function walkFiles(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, out);
    else if (e.isFile()) out.push(p);
  }
}

export class DataDirSync {
  private readonly wal: string;
  private readonly control: string;
  /** Last seen mtime of each WAL segment, and of pg_control. */
  private readonly seen = new Map<string, number>();
  private controlMtime: number;

  constructor(private readonly dataDir: string) {
    this.wal = path.join(dataDir, 'pg_wal');
    this.control = path.join(dataDir, 'global', 'pg_control');
    for (const name of readdirSync(this.wal)) if (WAL_SEGMENT.test(name)) this.seen.set(name, statSync(path.join(this.wal, name)).mtimeMs);
    this.controlMtime = statSync(this.control).mtimeMs;
  }

  /** Makes what the last statement wrote durable; returns the files it synced (for tests and metrics). */
  sync(): string[] {
    const synced: string[] = [];
    let appeared = false;
    const segments = readdirSync(this.wal)
      .filter((name) => WAL_SEGMENT.test(name))
      .map((name) => ({ name, file: path.join(this.wal, name), mtime: statSync(path.join(this.wal, name)).mtimeMs }));
    // Coarse file-system clocks can leave mtime unchanged across two quick commits, so the
    // newest-written segment (where WAL is being inserted) is synced every time (cheap when
    // clean); others only when written since the last look (recycled ones never are).
    const newest = Math.max(...segments.map((s) => s.mtime));
    for (const { name, file, mtime } of segments) {
      const before = this.seen.get(name);
      if (before === undefined) appeared = true;
      if (before === undefined || mtime > before || mtime === newest) {
        syncFile(file);
        synced.push(file);
      }
      this.seen.set(name, mtime);
    }
    if (appeared) {
      syncFile(this.wal, false);
      synced.push(this.wal);
    }
    const control = statSync(this.control).mtimeMs;
    if (control !== this.controlMtime) {
      const files: string[] = [];
      walkFiles(this.dataDir, files);
      for (const f of files) if (f !== this.control) syncFile(f);
      syncFile(this.control, false);
      synced.push(...files.filter((f) => f !== this.control), this.control);
      this.controlMtime = control;
    }
    return synced;
  }
}
