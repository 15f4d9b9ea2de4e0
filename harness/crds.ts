// Installs agentgate's CRDs into the e2e cluster (idempotent) and waits until served.
import path from 'node:path';
import { eventually, kubectl, kubectlOk, repoRoot } from './cluster.js';

let installed: Promise<void> | undefined;

export function ensureCrds(): Promise<void> {
  installed ??= (async () => {
    await kubectlOk('admin', ['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot, 'crds')]);
    await kubectlOk('admin', ['wait', '--for', 'condition=Established', '--timeout', '60s', '-f', path.join(repoRoot, 'crds')]);
    // Established means served; the OpenAPI document (kubectl explain, field validation)
    // is published a moment later by its own controller.
    // (AuditEvent is not a CRD: agentgate's aggregated API serves it and its OpenAPI.)
    for (const kind of ['agentidentity', 'accessgrant', 'approvalrequest']) {
      await eventually(async () => (await kubectl('admin', ['explain', `${kind}.spec`])).code === 0, 60_000, `OpenAPI for ${kind}`);
    }
  })();
  return installed;
}
