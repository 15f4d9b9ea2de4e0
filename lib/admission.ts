// The admission.k8s.io/v1 wire types agentgate reads and writes.
// Declared here rather than taken from @kubernetes/client-node because that package
// does not model AdmissionReview, and every pure module (rbac, fingerprint, preview,
// decide) needs the same shape without pulling in a client.

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** authentication.k8s.io/v1 UserInfo, as the apiserver authenticated the caller. */
export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** A decoded JSON object (object, oldObject, options arrive as raw JSON). */
export type JsonObject = { [key: string]: unknown };

export interface AdmissionRequest {
  /** Identifies this admission call; echo it in the response. Differs on every retry. */
  uid: string;
  /** The kind of `object`, in the version the webhook asked for. */
  kind: GroupVersionKind;
  /** The resource being accessed, in the version the webhook asked for. */
  resource: GroupVersionResource;
  subResource?: string;
  /** The kind/resource as the client sent it (may differ under matchPolicy: Equivalent). */
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** Empty on CREATE when the client relies on generateName. */
  name?: string;
  namespace?: string;
  operation: AdmissionOperation;
  userInfo: UserInfo;
  /**
   * The new object for CREATE/UPDATE; for CONNECT the connect options
   * (PodExecOptions, PodAttachOptions, PodPortForwardOptions, PodProxyOptions).
   * Absent/null for DELETE.
   */
  object?: JsonObject | null;
  /** The existing object for UPDATE and DELETE. */
  oldObject?: JsonObject | null;
  dryRun?: boolean;
  /** CreateOptions / UpdateOptions / DeleteOptions (meta.k8s.io/v1). */
  options?: JsonObject | null;
}

/** meta/v1 StatusCause: one structured fact behind a refusal. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** meta/v1 Status, as an AdmissionResponse carries it for a refused call. */
export interface Status {
  status?: 'Success' | 'Failure';
  code?: number;
  /** CamelCase, machine-readable; agentgate's reasons are in api/reasons.ts. */
  reason?: string;
  message?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  patch?: string;
  patchType?: 'JSONPatch';
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** Narrow an unknown JSON value to a plain object. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
