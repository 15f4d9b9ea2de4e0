// Installs agentgate's CRDs into the e2e cluster (idempotent) and waits until served.
import path from 'node:path';
import { kubectlOk, repoRoot } from './cluster.js';

let installed: Promise<void> | undefined;

export function ensureCrds(): Promise<void> {
  installed ??= (async () => {
    await kubectlOk('admin', ['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot, 'crds')]);
    await kubectlOk('admin', ['wait', '--for', 'condition=Established', '--timeout', '60s', '-f', path.join(repoRoot, 'crds')]);
  })();
  return installed;
}
