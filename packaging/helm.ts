// helm, built from its pinned Go module by hack/tools/build.sh, for the chart tests.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import yaml from 'js-yaml';
import { repoRoot } from '../harness/cluster.js';

export const chartDir = path.join(repoRoot, 'charts', 'agentgate');

let helmPath: string | undefined;
export function helm(): string {
  helmPath ??= path.join(execFileSync(path.join(repoRoot, 'hack', 'tools', 'build.sh'), { encoding: 'utf8' }).trim(), 'helm');
  return helmPath;
}

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runHelm(args: string[]): HelmResult {
  const r = spawnSync(helm(), args, {
    encoding: 'utf8',
    env: { ...process.env, HELM_CACHE_HOME: '/tmp/agentgate-helm-cache', HELM_CONFIG_HOME: '/tmp/agentgate-helm-config' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

/** All values the chart has, switched on, for the "full" render. */
export const FULL_VALUES = [
  '--set',
  'metrics.serviceMonitor.enabled=true',
  '--set',
  'metrics.prometheusRule.enabled=true',
  '--set',
  'metrics.grafanaDashboard.enabled=true',
  '--set',
  'tls.mode=certManager',
  '--set',
  'tls.certManager.issuerRef.name=agentgate-ca',
  '--set',
  'notifications.enabled=true',
  '--set',
  'notifications.secretName=agentgate-slack',
  '--set',
  'agentRoles={agentgate-edit,view,deployer}',
  '--set',
  'audit.store=postgres',
  '--set',
  'audit.postgres.dsnSecret.name=agentgate-audit-dsn',
  '--set',
  'webhook.replicas=2',
];

export function render(namespace: string, extra: string[] = []): K8sObject[] {
  const r = runHelm(['template', 'agentgate', chartDir, '--namespace', namespace, '--kube-version', '1.35.4', ...extra]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return (yaml.loadAll(r.stdout) as Array<K8sObject | null>).filter((d): d is K8sObject => !!d);
}
