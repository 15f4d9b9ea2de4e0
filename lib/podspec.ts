// Where an object says what pods run, and with what identity and privilege.
//
// Found by shape, not by kind, so every workload kind is covered the same way: a bare
// Pod (spec), a pod template (spec.template.spec: Deployment, StatefulSet, DaemonSet,
// ReplicaSet, ReplicationController, Job, and any custom resource that embeds a
// standard template), and a CronJob's job template (spec.jobTemplate.spec.template.spec).
// Pure: the webhook's decide() and boundary verification both use it.

import { isJsonObject } from './admission.js';
import type { JsonObject } from './admission.js';

/** The pod specs an object carries, with the path each was found at. */
export function podSpecsOf(obj: unknown): Array<{ path: string; spec: JsonObject }> {
  if (!isJsonObject(obj) || !isJsonObject(obj['spec'])) return [];
  const spec = obj['spec'];
  const out: Array<{ path: string; spec: JsonObject }> = [];
  if (Array.isArray(spec['containers'])) out.push({ path: 'spec', spec });
  const tmpl = spec['template'];
  if (isJsonObject(tmpl) && isJsonObject(tmpl['spec'])) out.push({ path: 'spec.template.spec', spec: tmpl['spec'] });
  const job = spec['jobTemplate'];
  if (isJsonObject(job) && isJsonObject(job['spec'])) {
    const t = job['spec']['template'];
    if (isJsonObject(t) && isJsonObject(t['spec'])) out.push({ path: 'spec.jobTemplate.spec.template.spec', spec: t['spec'] });
  }
  return out;
}

/** The ServiceAccount pods of this spec run as (Kubernetes' defaulting: serviceAccountName, then serviceAccount, then "default"). */
export function serviceAccountOf(spec: JsonObject): string {
  const n = spec['serviceAccountName'] ?? spec['serviceAccount'];
  return typeof n === 'string' && n ? n : 'default';
}

// Capabilities the Pod Security "baseline" level allows to be added; anything else reaches the node.
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

function containersOf(spec: JsonObject): JsonObject[] {
  const out: JsonObject[] = [];
  for (const key of ['initContainers', 'containers', 'ephemeralContainers']) {
    const list = spec[key];
    if (Array.isArray(list)) for (const c of list) if (isJsonObject(c)) out.push(c);
  }
  return out;
}

/**
 * What in a pod spec violates the Pod Security "baseline" level: the features that let a
 * container reach the node (its processes, network, filesystem, kernel). Each entry names
 * the field, e.g. "spec.template.spec.hostPID". Empty: nothing beyond baseline.
 */
export function privilegedFeatures(spec: JsonObject, path: string): string[] {
  const out: string[] = [];
  for (const f of ['hostPID', 'hostIPC', 'hostNetwork']) if (spec[f] === true) out.push(`${path}.${f}`);
  if (Array.isArray(spec['volumes'])) {
    spec['volumes'].forEach((v, i) => {
      if (isJsonObject(v) && v['hostPath'] !== undefined) out.push(`${path}.volumes[${i}].hostPath`);
    });
  }
  const podSc = spec['securityContext'];
  if (isJsonObject(podSc)) {
    if (
      isJsonObject(podSc['seLinuxOptions']) &&
      podSc['seLinuxOptions']['type'] !== undefined &&
      !['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t', ''].includes(String(podSc['seLinuxOptions']['type']))
    ) {
      out.push(`${path}.securityContext.seLinuxOptions.type`);
    }
    if (Array.isArray(podSc['sysctls']) && podSc['sysctls'].length) out.push(`${path}.securityContext.sysctls`);
  }
  containersOf(spec).forEach((c) => {
    const name = typeof c['name'] === 'string' ? c['name'] : '?';
    const at = `${path} container ${name}`;
    const sc = c['securityContext'];
    if (Array.isArray(c['ports']) && c['ports'].some((p) => isJsonObject(p) && typeof p['hostPort'] === 'number' && p['hostPort'] !== 0))
      out.push(`${at} ports[].hostPort`);
    if (!isJsonObject(sc)) return;
    if (sc['privileged'] === true) out.push(`${at} securityContext.privileged`);
    if (typeof sc['procMount'] === 'string' && sc['procMount'] !== 'Default') out.push(`${at} securityContext.procMount`);
    const caps = isJsonObject(sc['capabilities']) ? sc['capabilities']['add'] : undefined;
    if (Array.isArray(caps)) {
      const extra = caps.filter((x) => typeof x !== 'string' || !BASELINE_CAPABILITIES.has(x.replace(/^CAP_/, '')));
      if (extra.length) out.push(`${at} securityContext.capabilities.add ${extra.join(',')}`);
    }
    for (const p of ['seccompProfile', 'appArmorProfile']) {
      const prof = sc[p];
      if (isJsonObject(prof) && prof['type'] === 'Unconfined') out.push(`${at} securityContext.${p}.type Unconfined`);
    }
  });
  return out;
}

const POD_SECURITY_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/** Whether a namespace's Pod Security enforce level admits pods beyond baseline (unset means privileged). */
export function namespaceAllowsPrivileged(labels: Record<string, string> | undefined): boolean {
  const level = labels?.[POD_SECURITY_ENFORCE_LABEL];
  return level !== 'baseline' && level !== 'restricted';
}

/** A stable text of what a pod spec runs as and with, to tell whether a write changed it. */
export function identityKey(spec: JsonObject, path: string): string {
  return JSON.stringify([serviceAccountOf(spec), spec['automountServiceAccountToken'] ?? null, privilegedFeatures(spec, path)]);
}
