// Runs an Argo CD health.lua against an object with a real Lua 5.4 interpreter, the way
// Argo CD does: the object is the global `obj`, the script returns {status, message}.
import { spawnSync } from 'node:child_process';

/** A JSON value as a Lua table constructor. */
export function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v).replace(/\\u([0-9a-fA-F]{4})/g, '\\u{$1}');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

export function luaBinary(): string | undefined {
  for (const b of [process.env.LUA, 'lua5.4', 'lua']) {
    if (b && spawnSync(b, ['-v']).status === 0) return b;
  }
  return undefined;
}

export function runHealth(lua: string, script: string, obj: unknown): { status: string; message: string } {
  const program = `obj = ${toLua(obj)}\nlocal hs = (function()\n${script}\nend)()\nio.write(hs.status, "\\n", hs.message or "")\n`;
  const r = spawnSync(lua, ['-'], { input: program, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lua failed: ${r.stderr}`);
  const [status = '', ...rest] = r.stdout.split('\n');
  return { status, message: rest.join('\n') };
}
