// The built-in catalogue of destructive operations, as data.
//
// These rules are the defaults every agent starts with. They are plain ApprovalRules so
// that users can read them (`agentgate rules`), copy one into an AgentIdentity under the
// same name to replace it, or list its name in spec.disabledDefaultRules to drop it.
//
// Overlaps are deliberate: `delete` covers every DELETE, and `namespace-delete`,
// `pvc-delete`, `secret-write` and `rbac-write` cover some of the same calls again, so
// an agent that disables `delete` (say, to delete pods freely) still needs approval
// for the deletions that lose data or widen access.
//
// Every expression must evaluate without error on any request shape (object is null on
// DELETE, a *Options object on CONNECT, a Scale on the scale subresource), because an
// evaluation error denies the call. `request` fields are always present (see
// prepareVars); `object`/`oldObject` fields are guarded with has().

import { dump } from 'js-yaml';
import type { ApprovalRule } from '../../api/types.js';

interface CatalogueRule extends ApprovalRule {
  /** Why the operation is dangerous, for people reading the catalogue. */
  readonly description: string;
}

const WRITE = `request.operation in ['CREATE', 'UPDATE', 'DELETE']`;

const rules: CatalogueRule[] = [
  {
    name: 'delete',
    description:
      'Any DELETE. A `kubectl delete --all` (deletecollection) reaches admission as one DELETE per ' +
      'object, each of which matches; request.name may be empty for it, so this rule does not look at names.',
    expression: `request.operation == 'DELETE'`,
    action: 'RequireApproval',
    message: 'Deleting objects requires human approval.',
  },
  {
    name: 'scale-to-zero',
    description:
      'Scaling a workload to zero replicas: through the scale subresource (any resource, `kubectl scale ' +
      '--replicas=0`) or by writing spec.replicas: 0 on a Deployment, StatefulSet, ReplicaSet or ' +
      'ReplicationController. A Scale omits spec.replicas when it is 0, so absence counts as zero there.',
    expression: [
      `request.operation == 'UPDATE' && object != null && (`,
      `  (request.subResource == 'scale' &&`,
      `    (!has(object.spec) || !has(object.spec.replicas) || object.spec.replicas == 0) &&`,
      `    (oldObject == null || (has(oldObject.spec) && has(oldObject.spec.replicas) && oldObject.spec.replicas != 0)))`,
      `  ||`,
      `  (request.subResource == '' &&`,
      `    ((request.resource.group == 'apps' && request.resource.resource in ['deployments', 'statefulsets', 'replicasets']) ||`,
      `     (request.resource.group == '' && request.resource.resource == 'replicationcontrollers')) &&`,
      `    has(object.spec) && has(object.spec.replicas) && object.spec.replicas == 0 &&`,
      `    (oldObject == null || !has(oldObject.spec) || !has(oldObject.spec.replicas) || oldObject.spec.replicas != 0))`,
      `)`,
    ].join('\n'),
    action: 'RequireApproval',
    message: 'Scaling a workload to zero replicas requires human approval.',
  },
  {
    name: 'pod-connect',
    description:
      'exec, attach, port-forward and proxy into a pod (CONNECT on pods/exec, pods/attach, ' +
      'pods/portforward, pods/proxy): arbitrary commands or network access inside a running workload.',
    expression: `request.operation == 'CONNECT' && request.resource.group == '' && request.resource.resource == 'pods'`,
    action: 'RequireApproval',
    message: 'exec, attach, port-forward and proxy into pods require human approval.',
  },
  {
    name: 'pod-debug',
    description:
      'Adding an ephemeral container to a pod (`kubectl debug`, UPDATE pods/ephemeralcontainers): runs an ' +
      'arbitrary image inside the pod without an exec call, so it is gated like exec.',
    expression: `request.operation == 'UPDATE' && request.resource.group == '' && request.resource.resource == 'pods' && request.subResource == 'ephemeralcontainers'`,
    action: 'RequireApproval',
    message: 'Adding debug containers to pods requires human approval.',
  },
  {
    name: 'secret-write',
    description: 'Creating, changing or deleting a Secret: credentials, and a route to more access.',
    expression: `request.resource.group == '' && request.resource.resource == 'secrets' && ${WRITE}`,
    action: 'RequireApproval',
    message: 'Writing Secrets requires human approval.',
  },
  {
    name: 'serviceaccount-token',
    description:
      'Minting a ServiceAccount token (CREATE serviceaccounts/token): a credential for whatever that ' +
      'ServiceAccount may do, usable outside agentgate\u2019s time window.',
    expression: `request.operation == 'CREATE' && request.resource.group == '' && request.resource.resource == 'serviceaccounts' && request.subResource == 'token'`,
    action: 'RequireApproval',
    message: 'Minting ServiceAccount tokens requires human approval.',
  },
  {
    name: 'rbac-write',
    description:
      'Creating, changing or deleting any rbac.authorization.k8s.io object (Roles, RoleBindings, ...): ' +
      'the agent could widen its own or others\u2019 access.',
    expression: `request.resource.group == 'rbac.authorization.k8s.io' && ${WRITE}`,
    action: 'RequireApproval',
    message: 'Writing RBAC objects requires human approval.',
  },
  {
    name: 'namespace-delete',
    description: 'Deleting a Namespace deletes everything in it. Kept apart from `delete` so it survives disabling that rule.',
    expression: `request.operation == 'DELETE' && request.resource.group == '' && request.resource.resource == 'namespaces'`,
    action: 'RequireApproval',
    message: 'Deleting a namespace deletes everything in it and requires human approval.',
  },
  {
    name: 'pvc-delete',
    description:
      'Deleting a PersistentVolumeClaim (or PersistentVolume) can delete the data behind it, depending on ' +
      'the reclaim policy. Kept apart from `delete` so it survives disabling that rule.',
    expression: `request.operation == 'DELETE' && request.resource.group == '' && request.resource.resource in ['persistentvolumeclaims', 'persistentvolumes']`,
    action: 'RequireApproval',
    message: 'Deleting persistent volumes or claims can lose data and requires human approval.',
  },
  {
    name: 'crd-write',
    description:
      'Creating, changing or deleting a CustomResourceDefinition: deleting one deletes every object of that ' +
      'type cluster-wide; changing one can break every client of the API.',
    expression: `request.resource.group == 'apiextensions.k8s.io' && request.resource.resource == 'customresourcedefinitions' && ${WRITE}`,
    action: 'RequireApproval',
    message: 'Writing CustomResourceDefinitions requires human approval.',
  },
  // ---- Effects, not verbs (design.md): routes and fields that delete, reach or change identity ----
  {
    name: 'proxy-connect',
    description:
      'Any CONNECT other than into a pod: services/proxy (HTTP into the pods behind a Service), nodes/proxy (the ' +
      'kubelet API), and proxy-like subresources of any other API. `pod-connect` covers pods.',
    expression: `request.operation == 'CONNECT' && !(request.resource.group == '' && request.resource.resource == 'pods')`,
    action: 'RequireApproval',
    message: 'Proxying into services, nodes or other workloads requires human approval.',
  },
  {
    name: 'pod-eviction',
    description: 'Evicting a pod (CREATE pods/eviction, `kubectl drain`) deletes it without a DELETE call.',
    expression: `request.operation == 'CREATE' && request.resource.group == '' && request.resource.resource == 'pods' && request.subResource == 'eviction'`,
    action: 'RequireApproval',
    message: 'Evicting pods deletes them and requires human approval.',
  },
  {
    name: 'owner-finalizer-change',
    description:
      'Changing metadata.ownerReferences (the garbage collector deletes an object whose owner is gone, or deletes ' +
      'it with its new owner) or removing metadata.finalizers (a pending deletion completes without the cleanup ' +
      'or protection the finalizer stands for): deletion by the control plane on the agent\u2019s behalf.',
    expression: [
      `request.operation == 'UPDATE' && object != null && oldObject != null && has(object.metadata) && has(oldObject.metadata) && (`,
      `  (has(object.metadata.ownerReferences) ? object.metadata.ownerReferences : []) != (has(oldObject.metadata.ownerReferences) ? oldObject.metadata.ownerReferences : [])`,
      `  || (has(oldObject.metadata.finalizers) && oldObject.metadata.finalizers.exists(f, !has(object.metadata.finalizers) || !(f in object.metadata.finalizers)))`,
      `)`,
    ].join('\n'),
    action: 'RequireApproval',
    message: 'Changing owner references or removing finalizers makes the control plane delete objects and requires human approval.',
  },
  {
    name: 'workload-stop',
    description:
      'Fields whose change makes a controller delete pods or data: a Job\u2019s spec.parallelism to 0 or spec.suspend ' +
      'to true (its running pods are deleted), a CronJob\u2019s concurrencyPolicy to Replace (the next run deletes ' +
      'the running Job), a StatefulSet\u2019s persistentVolumeClaimRetentionPolicy to Delete (its claims and data go ' +
      'with it when scaled down or deleted).',
    expression: [
      `request.operation == 'UPDATE' && request.subResource == '' && object != null && has(object.spec) && oldObject != null && has(oldObject.spec) && (`,
      `  (request.resource.group == 'batch' && request.resource.resource == 'jobs' && (`,
      `    (has(object.spec.parallelism) && object.spec.parallelism == 0 && !(has(oldObject.spec.parallelism) && oldObject.spec.parallelism == 0)) ||`,
      `    (has(object.spec.suspend) && object.spec.suspend == true && !(has(oldObject.spec.suspend) && oldObject.spec.suspend == true))))`,
      `  || (request.resource.group == 'batch' && request.resource.resource == 'cronjobs' &&`,
      `    has(object.spec.concurrencyPolicy) && object.spec.concurrencyPolicy == 'Replace' && !(has(oldObject.spec.concurrencyPolicy) && oldObject.spec.concurrencyPolicy == 'Replace'))`,
      `  || (request.resource.group == 'apps' && request.resource.resource == 'statefulsets' && has(object.spec.persistentVolumeClaimRetentionPolicy) &&`,
      `    ['whenDeleted', 'whenScaled'].exists(k, k in object.spec.persistentVolumeClaimRetentionPolicy && object.spec.persistentVolumeClaimRetentionPolicy[k] == 'Delete' &&`,
      `      !(has(oldObject.spec.persistentVolumeClaimRetentionPolicy) && k in oldObject.spec.persistentVolumeClaimRetentionPolicy && oldObject.spec.persistentVolumeClaimRetentionPolicy[k] == 'Delete')))`,
      `)`,
    ].join('\n'),
    action: 'RequireApproval',
    message: 'This change makes a controller delete pods or data and requires human approval.',
  },
  {
    name: 'history-pruning',
    description:
      'Lowering how much history a controller keeps makes it delete the rest: spec.revisionHistoryLimit of a ' +
      'Deployment, StatefulSet or DaemonSet (rollback history), a CronJob\u2019s successfulJobsHistoryLimit / ' +
      'failedJobsHistoryLimit (finished Jobs, their pods and logs), a Job\u2019s ttlSecondsAfterFinished (the Job itself).',
    expression: [
      `request.operation == 'UPDATE' && request.subResource == '' && object != null && has(object.spec) && oldObject != null && has(oldObject.spec) && (`,
      `  (request.resource.group == 'apps' && request.resource.resource in ['deployments', 'statefulsets', 'daemonsets'] &&`,
      `    has(object.spec.revisionHistoryLimit) && object.spec.revisionHistoryLimit < (has(oldObject.spec.revisionHistoryLimit) ? oldObject.spec.revisionHistoryLimit : 10))`,
      `  || (request.resource.group == 'batch' && request.resource.resource == 'cronjobs' && (`,
      `    (has(object.spec.successfulJobsHistoryLimit) && object.spec.successfulJobsHistoryLimit < (has(oldObject.spec.successfulJobsHistoryLimit) ? oldObject.spec.successfulJobsHistoryLimit : 3)) ||`,
      `    (has(object.spec.failedJobsHistoryLimit) && object.spec.failedJobsHistoryLimit < (has(oldObject.spec.failedJobsHistoryLimit) ? oldObject.spec.failedJobsHistoryLimit : 1))))`,
      `  || (request.resource.group == 'batch' && request.resource.resource == 'jobs' && has(object.spec.ttlSecondsAfterFinished) &&`,
      `    (!has(oldObject.spec.ttlSecondsAfterFinished) || object.spec.ttlSecondsAfterFinished < oldObject.spec.ttlSecondsAfterFinished))`,
      `)`,
    ].join('\n'),
    action: 'RequireApproval',
    message: 'Lowering history limits or a Job\u2019s TTL makes a controller delete objects and requires human approval.',
  },
  {
    name: 'selector-relabel',
    description:
      'Changing the labels of pods, ReplicaSets, ReplicationControllers or ControllerRevisions, or a workload\u2019s ' +
      'spec.selector: a controller adopts the object and deletes the surplus, or orphans it and starts replacements.',
    expression: [
      `request.operation == 'UPDATE' && request.subResource == '' && object != null && oldObject != null && (`,
      `  (((request.resource.group == '' && request.resource.resource in ['pods', 'replicationcontrollers']) ||`,
      `    (request.resource.group == 'apps' && request.resource.resource in ['replicasets', 'controllerrevisions'])) &&`,
      `   has(object.metadata) && has(oldObject.metadata) &&`,
      `   (has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {}))`,
      `  || (request.resource.group in ['', 'apps', 'batch'] && request.resource.resource in ['replicationcontrollers', 'replicasets', 'deployments', 'statefulsets', 'daemonsets', 'jobs'] &&`,
      `   has(object.spec) && has(oldObject.spec) &&`,
      `   (has(object.spec.selector) ? object.spec.selector : {}) != (has(oldObject.spec.selector) ? oldObject.spec.selector : {}))`,
      `)`,
    ].join('\n'),
    action: 'RequireApproval',
    message: 'Relabelling pods or changing selectors can make controllers delete or replace pods and requires human approval.',
  },
  {
    name: 'workload-identity',
    description:
      'A write that makes pods run as a ServiceAccount whose RBAC exceeds the grant\u2019s role: a bare Pod, any ' +
      'workload\u2019s pod template (found by shape: spec.template.spec, spec.jobTemplate.spec.template.spec), on ' +
      'create, or on update when the pod spec changes. Those pods act outside the webhook and outlive the grant. ' +
      'effects.workload.exceedsGrant names the ServiceAccounts and what they hold beyond the grant.',
    expression: `size(effects.workload.exceedsGrant) > 0`,
    action: 'RequireApproval',
    message: 'Pods that would run as a ServiceAccount with more access than the grant require human approval.',
  },
  {
    name: 'workload-privilege',
    description:
      'A write that makes pods run beyond the Pod Security "baseline" level (privileged, host namespaces, hostPath, ' +
      'hostPort, added capabilities, unconfined profiles...) in a namespace whose Pod Security enforce level admits ' +
      'it (privileged, or unset): such pods reach the node. effects.workload.privileged names the fields.',
    expression: `size(effects.workload.privileged) > 0`,
    action: 'RequireApproval',
    message: 'Pods with node-level privilege require human approval.',
  },
  {
    name: 'serviceaccount-cloud-identity',
    description:
      'Setting or changing a ServiceAccount\u2019s cloud workload identity (eks.amazonaws.com/role-arn, ' +
      'iam.gke.io/gcp-service-account, azure.workload.identity/client-id): pods using it get that cloud role.',
    expression: [
      `request.resource.group == '' && request.resource.resource == 'serviceaccounts' && request.subResource == '' &&`,
      `request.operation in ['CREATE', 'UPDATE'] && object != null && has(object.metadata) &&`,
      `['eks.amazonaws.com/role-arn', 'iam.gke.io/gcp-service-account', 'azure.workload.identity/client-id'].exists(k,`,
      `  (has(object.metadata.annotations) && k in object.metadata.annotations ? object.metadata.annotations[k] : '') !=`,
      `  (oldObject != null && has(oldObject.metadata) && has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations ? oldObject.metadata.annotations[k] : ''))`,
    ].join('\n'),
    action: 'RequireApproval',
    message: 'Giving a ServiceAccount a cloud identity requires human approval.',
  },
  {
    name: 'credential-request',
    description: 'Requesting a certificate for a pod\u2019s identity (CREATE podcertificaterequests.certificates.k8s.io).',
    expression: `request.operation == 'CREATE' && request.resource.group == 'certificates.k8s.io' && request.resource.resource == 'podcertificaterequests'`,
    action: 'RequireApproval',
    message: 'Requesting certificates requires human approval.',
  },
];

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The built-in default rules, in evaluation order. */
export const DEFAULT_RULES: readonly CatalogueRule[] = deepFreeze(rules);

export const DEFAULT_RULE_NAMES: readonly string[] = Object.freeze(DEFAULT_RULES.map((r) => r.name));

export function findDefaultRule(name: string): CatalogueRule | undefined {
  return DEFAULT_RULES.find((r) => r.name === name);
}

/**
 * The catalogue as text for `agentgate rules`. YAML is pasteable into
 * spec.approvalRules as is: each description is a comment, not a field the CRD would
 * reject. JSON carries the description as a field.
 */
export function renderCatalogue(format: 'yaml' | 'json' = 'yaml', catalogue: readonly CatalogueRule[] = DEFAULT_RULES): string {
  if (format === 'json')
    return (
      JSON.stringify(
        catalogue.map((r) => ({ ...r })),
        null,
        2,
      ) + '\n'
    );
  return catalogue
    .map(({ description, name, action, message, expression }) => {
      const comment = wrap(description, 96)
        .map((line) => `# ${line}\n`)
        .join('');
      const rule = { name, action, ...(message !== undefined ? { message } : {}), expression };
      return comment + dump([rule], { lineWidth: 120, noRefs: true, quotingType: "'" });
    })
    .join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
