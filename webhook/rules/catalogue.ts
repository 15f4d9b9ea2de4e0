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

export interface CatalogueRule extends ApprovalRule {
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
  if (format === 'json') return JSON.stringify(catalogue.map((r) => ({ ...r })), null, 2) + '\n';
  return catalogue
    .map(({ description, name, action, message, expression }) => {
      const comment = wrap(description, 96).map((line) => `# ${line}\n`).join('');
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
