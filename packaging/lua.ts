// Runs an Argo CD health.lua against an object with the interpreter Argo CD embeds
// (gopher-lua, pinned to Argo CD's version, only the libraries Argo CD opens), built from
// its Go module by `hack/tools/build.sh argocd-lua`. See hack/tools/argocd-lua/main.go.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../harness/cluster.js';

interface HealthStatus {
  status: string;
  message?: string;
}

let argocdLuaPath: string | undefined;
function argocdLua(): string {
  argocdLuaPath ??= path.join(
    execFileSync(path.join(repoRoot, 'hack', 'tools', 'build.sh'), ['argocd-lua'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim(),
    'argocd-lua',
  );
  return argocdLuaPath;
}

/** The health Argo CD computes for obj with the script at scriptPath; throws on a script error. */
export function runHealth(scriptPath: string, obj: unknown): HealthStatus {
  const r = spawnSync(argocdLua(), ['health', scriptPath], { input: JSON.stringify(obj), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.relative(repoRoot, scriptPath)}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return JSON.parse(r.stdout) as HealthStatus;
}
