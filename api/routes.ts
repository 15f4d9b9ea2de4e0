// The route classification: what each (group, resource, subresource, verb) an agent can
// reach DOES, and what in agentgate governs it (design.md, "Effects, not verbs").
//
// This is data, reviewed like code. lib/routes.ts matches the live apiserver's routes
// against it; a route that no entry matches is "unclassified": a test fails naming it,
// the operator reports it as a finding, and under spec.posture: Strict it needs approval.
// So a new Kubernetes version, a CRD with an unknown subresource, an aggregated API or a
// wider agentRoles cannot silently open a route.
//
// Entries are tried in order; the first match classifies. Built-in groups are listed
// resource by resource (a resource Kubernetes adds later is unclassified until someone
// reads what it does); resources served by a CustomResourceDefinition are matched by
// the `custom` entries, which know only the subresources a CRD can have (status, scale).
//
// `governedBy` names what stops or reports the effect:
// - a built-in rule of webhook/rules/catalogue.ts (`agentgate rules` lists them),
// - `decide:<step>`: a step of the webhook's decision (webhook/decide.ts),
// - `rbac-only`: reads; admission never sees them, the grant's RBAC scope bounds them
//   and the apiserver's audit backend records them,
// - `verification:<Route>`: boundary verification reports the capability (lib/boundary.ts).
// Field-level effects (what a CREATE/UPDATE body can do) are in FIELD_EFFECTS below.

export const EFFECT_CLASSES = ['read', 'create', 'modify', 'delete-effect', 'reach', 'identity-privilege', 'credential'] as const;
export type EffectClass = (typeof EFFECT_CLASSES)[number];

/** Classes that need no approval by default (and are the only ones allowed unheld under posture Strict). */
export const BENIGN_CLASSES: readonly EffectClass[] = ['read', 'create', 'modify'];

export interface RouteRule {
  /** API groups ('' is core). */
  readonly groups: readonly string[] | 'builtin' | 'custom';
  /** 'pods', 'pods/exec'; '<known>' = every resource this entry's groups list in BUILTIN_RESOURCES (or any CRD resource for 'custom'); '<known>/status' etc. */
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly class: EffectClass;
  readonly governedBy: readonly string[];
  readonly why: string;
}

/**
 * The top-level resources of Kubernetes' built-in groups (v1.35, as served by the pinned
 * kube-apiserver). Generic entries below classify their ordinary verbs; anything not
 * listed (a new resource, a new group, an aggregated API) is unclassified until added.
 */
export const BUILTIN_RESOURCES: Readonly<Record<string, readonly string[]>> = {
  '': [
    'bindings',
    'componentstatuses',
    'configmaps',
    'endpoints',
    'events',
    'limitranges',
    'namespaces',
    'nodes',
    'persistentvolumeclaims',
    'persistentvolumes',
    'pods',
    'podtemplates',
    'replicationcontrollers',
    'resourcequotas',
    'secrets',
    'serviceaccounts',
    'services',
  ],
  'admissionregistration.k8s.io': [
    'mutatingadmissionpolicies',
    'mutatingadmissionpolicybindings',
    'mutatingwebhookconfigurations',
    'validatingadmissionpolicies',
    'validatingadmissionpolicybindings',
    'validatingwebhookconfigurations',
  ],
  'apiextensions.k8s.io': ['customresourcedefinitions'],
  'apiregistration.k8s.io': ['apiservices'],
  apps: ['controllerrevisions', 'daemonsets', 'deployments', 'replicasets', 'statefulsets'],
  'authentication.k8s.io': ['selfsubjectreviews', 'tokenreviews'],
  'authorization.k8s.io': ['localsubjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'subjectaccessreviews'],
  autoscaling: ['horizontalpodautoscalers'],
  batch: ['cronjobs', 'jobs'],
  'certificates.k8s.io': ['certificatesigningrequests', 'clustertrustbundles', 'podcertificaterequests'],
  'coordination.k8s.io': ['leases', 'leasecandidates'],
  'discovery.k8s.io': ['endpointslices'],
  'events.k8s.io': ['events'],
  'flowcontrol.apiserver.k8s.io': ['flowschemas', 'prioritylevelconfigurations'],
  'internal.apiserver.k8s.io': ['storageversions'],
  'networking.k8s.io': ['ingressclasses', 'ingresses', 'ipaddresses', 'networkpolicies', 'servicecidrs'],
  'node.k8s.io': ['runtimeclasses'],
  policy: ['poddisruptionbudgets'],
  'rbac.authorization.k8s.io': ['clusterrolebindings', 'clusterroles', 'rolebindings', 'roles'],
  'resource.k8s.io': ['deviceclasses', 'resourceclaims', 'resourceclaimtemplates', 'resourceslices', 'devicetaintrules'],
  'scheduling.k8s.io': ['priorityclasses'],
  'storage.k8s.io': ['csidrivers', 'csinodes', 'csistoragecapacities', 'storageclasses', 'volumeattachments', 'volumeattributesclasses'],
  'storagemigration.k8s.io': ['storageversionmigrations'],
};

const READ = ['get', 'list', 'watch'];
const WRITE = ['update', 'patch'];
const DELETE = ['delete', 'deletecollection'];
const PROXY_VERBS = ['get', 'create', 'update', 'patch', 'delete'];
const RBAC = 'rbac.authorization.k8s.io';

export const ROUTE_RULES: readonly RouteRule[] = [
  // --- agentgate's own API: agents may only ask for access ------------------------
  {
    groups: ['agentgate.io'],
    resources: ['accessgrants'],
    verbs: ['create'],
    class: 'create',
    governedBy: ['decide:access-request'],
    why: 'an agent asking for its own access: the grant always waits for a human and must fit the ceiling',
  },
  {
    groups: ['agentgate.io'],
    resources: ['<known>', '<known>/status'],
    verbs: READ,
    class: 'read',
    governedBy: ['rbac-only'],
    why: 'reading grants, approvals and audit records',
  },
  {
    groups: ['agentgate.io'],
    resources: ['<known>', '<known>/status'],
    verbs: ['create', ...WRITE, ...DELETE],
    class: 'identity-privilege',
    governedBy: ['decide:agentgate-objects', 'verification:Escalation'],
    why: "agentgate's objects are its controls: agents never change them",
  },

  // --- reach: into a running workload or a node, through any proxy-like subresource ---
  {
    groups: [''],
    resources: ['pods/exec', 'pods/attach', 'pods/portforward'],
    verbs: ['get', 'create'],
    class: 'reach',
    governedBy: ['pod-connect'],
    why: 'commands or network access inside a running container (CONNECT)',
  },
  {
    groups: [''],
    resources: ['pods/proxy'],
    verbs: PROXY_VERBS,
    class: 'reach',
    governedBy: ['pod-connect'],
    why: "HTTP into a pod's ports through the apiserver (CONNECT, any method)",
  },
  {
    groups: [''],
    resources: ['services/proxy'],
    verbs: PROXY_VERBS,
    class: 'reach',
    governedBy: ['proxy-connect'],
    why: "HTTP into a Service's pods through the apiserver (CONNECT, any method)",
  },
  {
    groups: [''],
    resources: ['nodes/proxy'],
    verbs: PROXY_VERBS,
    class: 'reach',
    governedBy: ['proxy-connect', 'decide:cluster-scoped', 'verification:Escalation'],
    why: 'the kubelet API (exec, logs, pods of every namespace) through the apiserver; direct kubelet access skips admission, so verification reports it',
  },
  {
    groups: [''],
    resources: ['pods/ephemeralcontainers'],
    verbs: WRITE,
    class: 'reach',
    governedBy: ['pod-debug'],
    why: 'a debug container runs an arbitrary image inside the pod, without exec',
  },
  { groups: [''], resources: ['pods/ephemeralcontainers'], verbs: READ, class: 'read', governedBy: ['rbac-only'], why: "reading a pod's ephemeral containers" },
  { groups: [''], resources: ['pods/log'], verbs: READ, class: 'read', governedBy: ['rbac-only'], why: 'container logs' },
  { groups: [''], resources: ['pods/resize'], verbs: READ, class: 'read', governedBy: ['rbac-only'], why: "reading a pod's resources" },
  {
    groups: [''],
    resources: ['pods/resize'],
    verbs: WRITE,
    class: 'modify',
    governedBy: [],
    why: "changes a running pod's CPU/memory in place (containers may restart, not be deleted)",
  },
  {
    groups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests/approval'],
    verbs: READ,
    class: 'read',
    governedBy: ['rbac-only'],
    why: "reading a CSR's approval",
  },

  // --- delete-effect: calls that remove objects without being a DELETE of them -------
  {
    groups: [''],
    resources: ['pods/eviction'],
    verbs: ['create'],
    class: 'delete-effect',
    governedBy: ['pod-eviction'],
    why: 'an eviction deletes the pod (honouring PodDisruptionBudgets)',
  },
  {
    groups: [''],
    resources: ['namespaces/finalize'],
    verbs: WRITE,
    class: 'delete-effect',
    governedBy: ['decide:cluster-scoped'],
    why: "removing a namespace's finalizers completes its deletion without cleanup",
  },

  // --- credential ------------------------------------------------------------------
  {
    groups: [''],
    resources: ['serviceaccounts/token'],
    verbs: ['create'],
    class: 'credential',
    governedBy: ['serviceaccount-token', 'verification:Escalation'],
    why: "a token for whatever the ServiceAccount may do, valid outside agentgate's window",
  },
  {
    groups: [''],
    resources: ['secrets'],
    verbs: ['create', ...WRITE],
    class: 'credential',
    governedBy: ['secret-write', 'verification:IndirectServiceAccountToken'],
    why: 'credentials; a service-account-token Secret is filled with a token by the control plane',
  },
  {
    groups: [''],
    resources: ['secrets'],
    verbs: READ,
    class: 'credential',
    governedBy: ['rbac-only', 'verification:Escalation'],
    why: 'reading Secrets hands over tokens and keys; admission never sees reads, so only RBAC scope bounds this (verification reports it for agentgate\u2019s namespace)',
  },
  {
    groups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests'],
    verbs: ['create'],
    class: 'credential',
    governedBy: ['decide:cluster-scoped', 'verification:Escalation'],
    why: 'a client certificate for any identity, when a signer auto-approves',
  },
  {
    groups: ['certificates.k8s.io'],
    resources: ['podcertificaterequests'],
    verbs: ['create'],
    class: 'credential',
    governedBy: ['credential-request'],
    why: 'a certificate naming a pod and its ServiceAccount',
  },

  // --- identity/privilege: who or what code runs as ----------------------------------
  {
    groups: ['', 'authentication.k8s.io'],
    resources: ['users', 'groups', 'serviceaccounts', 'uids', 'userextras/*'],
    verbs: ['impersonate'],
    class: 'identity-privilege',
    governedBy: ['verification:Escalation'],
    why: 'acting as another identity, whose calls the webhook does not gate (authorization, not admission: verification reports it)',
  },
  {
    groups: [RBAC],
    resources: ['roles', 'clusterroles'],
    verbs: ['bind', 'escalate'],
    class: 'identity-privilege',
    governedBy: ['rbac-write', 'verification:Escalation'],
    why: 'bindings or roles beyond what the agent holds',
  },
  {
    groups: [RBAC],
    resources: ['<known>'],
    verbs: ['create', ...WRITE, ...DELETE],
    class: 'identity-privilege',
    governedBy: ['rbac-write', 'verification:Escalation'],
    why: 'changes who may do what',
  },
  {
    groups: [
      'admissionregistration.k8s.io',
      'apiregistration.k8s.io',
      'apiextensions.k8s.io',
      'flowcontrol.apiserver.k8s.io',
      'internal.apiserver.k8s.io',
      'storagemigration.k8s.io',
    ],
    resources: ['<known>', '<known>/status'],
    verbs: ['create', ...WRITE, ...DELETE],
    class: 'identity-privilege',
    governedBy: ['decide:cluster-scoped', 'crd-write', 'verification:Escalation'],
    why: 'the API itself: admission (including agentgate\u2019s webhook), API routing, CRDs, request priority',
  },
  {
    groups: ['certificates.k8s.io'],
    resources: ['certificatesigningrequests/approval', 'signers'],
    verbs: ['update', 'patch', 'approve', 'sign'],
    class: 'identity-privilege',
    governedBy: ['decide:cluster-scoped', 'verification:Escalation'],
    why: 'approving or signing certificates for any identity',
  },
  {
    groups: [''],
    resources: ['serviceaccounts'],
    verbs: ['create', ...WRITE],
    class: 'modify',
    governedBy: ['serviceaccount-cloud-identity'],
    why: 'a ServiceAccount is harmless until pods use it; its cloud-identity annotations are a field-level effect',
  },
  {
    groups: ['', 'apps', 'batch'],
    resources: ['pods', 'replicationcontrollers', 'podtemplates', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs'],
    verbs: ['create'],
    class: 'create',
    governedBy: ['workload-identity', 'workload-privilege'],
    why: 'runs pods: their ServiceAccount and privilege are field-level effects',
  },
  {
    groups: ['', 'apps', 'batch'],
    resources: ['pods', 'replicationcontrollers', 'podtemplates', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs'],
    verbs: WRITE,
    class: 'modify',
    governedBy: ['workload-identity', 'workload-privilege', 'scale-to-zero', 'workload-stop', 'history-pruning', 'selector-relabel', 'owner-finalizer-change'],
    why: 'changes what runs: template, replicas, history and selectors are field-level effects',
  },
  {
    groups: ['', 'apps'],
    resources: ['replicationcontrollers/scale', 'deployments/scale', 'replicasets/scale', 'statefulsets/scale'],
    verbs: WRITE,
    class: 'modify',
    governedBy: ['scale-to-zero'],
    why: 'scaling; to zero deletes every pod',
  },
  {
    groups: [''],
    resources: ['pods/binding', 'bindings'],
    verbs: ['create'],
    class: 'modify',
    governedBy: [],
    why: 'assigns a pending pod to a node (the scheduler\u2019s job)',
  },

  // --- the rest of the built-in API, by verb ------------------------------------------
  { groups: 'builtin', resources: ['<known>', '<known>/status', '<known>/scale'], verbs: READ, class: 'read', governedBy: ['rbac-only'], why: 'reads' },
  {
    groups: ['authorization.k8s.io', 'authentication.k8s.io'],
    resources: ['<known>'],
    verbs: ['create'],
    class: 'read',
    governedBy: ['decide:self-review'],
    why: 'a question to the apiserver that stores nothing',
  },
  {
    groups: 'builtin',
    resources: ['<known>'],
    verbs: DELETE,
    class: 'delete-effect',
    governedBy: ['delete'],
    why: 'deletion (a deletecollection arrives as one DELETE per object)',
  },
  { groups: 'builtin', resources: ['<known>'], verbs: ['create'], class: 'create', governedBy: [], why: 'a new object' },
  {
    groups: 'builtin',
    resources: ['<known>', '<known>/status'],
    verbs: WRITE,
    class: 'modify',
    governedBy: ['owner-finalizer-change'],
    why: 'a change; ownerReferences and finalizers are field-level effects',
  },

  // --- resources served by CustomResourceDefinitions (only status and scale exist) ------
  { groups: 'custom', resources: ['<known>', '<known>/status', '<known>/scale'], verbs: READ, class: 'read', governedBy: ['rbac-only'], why: 'reads' },
  { groups: 'custom', resources: ['<known>'], verbs: DELETE, class: 'delete-effect', governedBy: ['delete'], why: 'deletion' },
  {
    groups: 'custom',
    resources: ['<known>'],
    verbs: ['create'],
    class: 'create',
    governedBy: ['workload-identity', 'workload-privilege'],
    why: 'a new object; one that embeds a pod template runs pods',
  },
  {
    groups: 'custom',
    resources: ['<known>', '<known>/status'],
    verbs: WRITE,
    class: 'modify',
    governedBy: ['workload-identity', 'workload-privilege', 'owner-finalizer-change'],
    why: 'a change',
  },
  { groups: 'custom', resources: ['<known>/scale'], verbs: WRITE, class: 'modify', governedBy: ['scale-to-zero'], why: 'scaling; to zero stops the workload' },
];

/** Field-level effects of CREATE/UPDATE bodies: data for people and for the rule-per-effect unit test. */
interface FieldEffect {
  readonly field: string;
  /** Where it applies, as "<resource>.<group>" or "any" (found by shape). */
  readonly on: string;
  readonly class: EffectClass;
  readonly rule: string;
  readonly why: string;
}

export const FIELD_EFFECTS: readonly FieldEffect[] = [
  {
    field: 'spec.replicas -> 0 (and the scale subresource)',
    on: 'deployments.apps, statefulsets.apps, replicasets.apps, replicationcontrollers, any */scale',
    class: 'delete-effect',
    rule: 'scale-to-zero',
    why: 'every pod is deleted',
  },
  {
    field: 'spec.parallelism -> 0, spec.suspend -> true',
    on: 'jobs.batch',
    class: 'delete-effect',
    rule: 'workload-stop',
    why: "the Job's running pods are deleted",
  },
  {
    field: 'spec.concurrencyPolicy -> Replace',
    on: 'cronjobs.batch',
    class: 'delete-effect',
    rule: 'workload-stop',
    why: 'the next run deletes the running Job',
  },
  {
    field: 'spec.persistentVolumeClaimRetentionPolicy -> Delete',
    on: 'statefulsets.apps',
    class: 'delete-effect',
    rule: 'workload-stop',
    why: 'scaling down or deleting the StatefulSet then deletes its PersistentVolumeClaims (and data)',
  },
  {
    field: 'spec.revisionHistoryLimit lowered',
    on: 'deployments.apps, statefulsets.apps, daemonsets.apps',
    class: 'delete-effect',
    rule: 'history-pruning',
    why: 'old ReplicaSets / ControllerRevisions (the rollback history) are deleted',
  },
  {
    field: 'spec.successfulJobsHistoryLimit / failedJobsHistoryLimit lowered',
    on: 'cronjobs.batch',
    class: 'delete-effect',
    rule: 'history-pruning',
    why: 'finished Jobs (and their pods and logs) are deleted',
  },
  {
    field: 'spec.ttlSecondsAfterFinished set or lowered',
    on: 'jobs.batch',
    class: 'delete-effect',
    rule: 'history-pruning',
    why: 'the TTL controller deletes the Job and its pods',
  },
  {
    field: 'metadata.ownerReferences changed',
    on: 'any',
    class: 'delete-effect',
    rule: 'owner-finalizer-change',
    why: 'the garbage collector deletes an object whose owner is gone (or is deleted with it)',
  },
  {
    field: 'metadata.finalizers removed',
    on: 'any',
    class: 'delete-effect',
    rule: 'owner-finalizer-change',
    why: 'lets a pending deletion complete without the cleanup or protection the finalizer stands for',
  },
  {
    field: 'metadata.labels changed (pods, replicasets, replicationcontrollers, controllerrevisions), spec.selector changed',
    on: 'pods, replicasets.apps, replicationcontrollers, controllerrevisions.apps',
    class: 'delete-effect',
    rule: 'selector-relabel',
    why: 'a controller adopts the object and deletes surplus, or orphans it and replaces it',
  },
  {
    field: 'pod serviceAccountName / serviceAccount (spec, spec.template.spec, spec.jobTemplate.spec.template.spec) whose RBAC exceeds the grant',
    on: 'any (by shape)',
    class: 'identity-privilege',
    rule: 'workload-identity',
    why: 'the pods act as that ServiceAccount; the webhook never sees their calls, and they outlive the grant',
  },
  {
    field:
      'privileged, hostPID/hostIPC/hostNetwork, hostPath volumes, hostPort, capabilities beyond baseline, Unconfined seccomp/AppArmor, procMount, sysctls, SELinux type',
    on: 'any (by shape), where the namespace\u2019s Pod Security level admits it',
    class: 'identity-privilege',
    rule: 'workload-privilege',
    why: 'the pods reach the node and through it every pod and credential on it',
  },
  {
    field: 'metadata.annotations eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account, azure.workload.identity/client-id',
    on: 'serviceaccounts',
    class: 'identity-privilege',
    rule: 'serviceaccount-cloud-identity',
    why: 'pods using the ServiceAccount get that cloud identity',
  },
];
