// How e2e (and the demo) run agentgate's audit component: the store (a real PostgreSQL
// from hack/postgres when it runs, else embedded PGlite), and, on the local control
// plane, the aggregated API on the port the apiserver's audit backend already names,
// behind a Service of type ExternalName (127.0.0.1): with the default cluster routing
// the aggregator dials <externalName>:<port>, so traffic stays on loopback.
import path from 'node:path';
import { AUDIT_APISERVICE, AUDIT_GROUP, AUDIT_SERVICE, VERSION } from '../api/types.js';
import { clusterEnv, eventually, kubectl, kubectlOk, readRunEnv } from './cluster.js';

function controlPlaneEnv(): Record<string, string> {
  if (!clusterEnv().local) return {};
  return readRunEnv('controlplane');
}

/** The PostgreSQL DSN when hack/postgres/up.sh runs and E2E_AUDIT_STORE is not pglite. */
export function postgresDsn(): string | undefined {
  if (process.env.E2E_AUDIT_STORE === 'pglite') return undefined;
  return readRunEnv('postgres').PG_DSN;
}

/**
 * Flags and environment for a webhook process named name (its PGlite directory is its own).
 * withApi: serve the audit API on the control plane's one audit port; locally only one
 * process at a time can (in a cluster every replica listens on its own pod IP).
 */
export function auditStoreArgs(name: string, dataRoot: string, withApi = true): { args: string[]; env: Record<string, string> } {
  const dsn = postgresDsn();
  const store = dsn ? ['--audit-store', 'postgres'] : ['--audit-store', 'pglite', '--audit-data-dir', path.join(dataRoot, `${name}-audit`)];
  const cp = controlPlaneEnv();
  const api =
    cp.AUDIT_PORT && withApi
      ? [
          '--audit-port',
          cp.AUDIT_PORT,
          '--audit-host',
          '127.0.0.1',
          '--audit-service',
          AUDIT_SERVICE,
          '--audit-tls-cert',
          cp.AUDIT_TLS_CERT!,
          '--audit-tls-key',
          cp.AUDIT_TLS_KEY!,
          '--audit-tls-ca',
          cp.AUDIT_TLS_CA!,
          '--audit-sink-client-ca',
          cp.AUDIT_SINK_CLIENT_CA!,
          '--audit-sink-allowed-names',
          'agentgate-audit-sink-client',
          '--audit-checkpoint-interval',
          '1s',
        ]
      : [];
  return { args: [...store, ...api], env: dsn ? { AGENTGATE_AUDIT_DSN: dsn } : {} };
}

/**
 * The ExternalName Service and the APIService routing to it (local control plane only), as
 * the chart installs them: the webhook only fills in the APIService's CA bundle. Idempotent.
 */
export async function installAuditService(namespace: string): Promise<void> {
  const cp = controlPlaneEnv();
  if (!cp.AUDIT_PORT) return;
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: AUDIT_SERVICE, namespace, labels: { 'app.kubernetes.io/name': 'agentgate' } },
    spec: { type: 'ExternalName', externalName: '127.0.0.1', ports: [{ name: 'https', port: Number(cp.AUDIT_PORT), protocol: 'TCP' }] },
  };
  const apiService = {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: AUDIT_APISERVICE, labels: { 'app.kubernetes.io/name': 'agentgate' } },
    spec: {
      group: AUDIT_GROUP,
      version: VERSION,
      service: { name: AUDIT_SERVICE, namespace, port: Number(cp.AUDIT_PORT) },
      groupPriorityMinimum: 1000,
      versionPriority: 15,
    },
  };
  const list = { apiVersion: 'v1', kind: 'List', items: [svc, apiService] };
  await kubectlOk('admin', ['apply', '--server-side', '--force-conflicts', '--field-manager', 'agentgate-installer', '-f', '-'], JSON.stringify(list));
}

/** Waits until the apiserver reports the audit API's APIService Available (its server answers). */
export async function auditApiAvailable(timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () =>
      (await kubectl('admin', ['get', 'apiservice', AUDIT_APISERVICE, '-o', 'jsonpath={.status.conditions[?(@.type=="Available")].status}'])).stdout === 'True',
    timeoutMs,
    `APIService ${AUDIT_APISERVICE} Available`,
  );
}
