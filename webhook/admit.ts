// The I/O around the pure decisions: perform the one write a decision asks for (create
// the ApprovalRequest, consume an approval, record an approver's decision), decide again
// on what was read back, hold for a fast approval, and write the AuditEvent before
// answering.
import { createHash } from 'node:crypto';
import type { ApprovalRequest } from '../api/types.js';
import type { AdmissionRequest, AdmissionResponse } from '../lib/admission.js';
import { consumedStatus } from '../lib/approval.js';
import type { UnchainedSpec } from '../lib/audit-chain.js';
import type { Clock } from '../lib/clock.js';
import { canonicalize } from '../lib/fingerprint.js';
import type { AgentgateClient } from '../lib/kube.js';
import { errorMessage, isAlreadyExists, isConflict, isNotFound, writeWithConflictRetry } from '../lib/kube.js';
import type { Logger } from '../lib/log.js';
import { execCommand } from './preview.js';
import { AUDIT_EVENT_ANNOTATION } from '../audit/apiserver/sink.js';
import { objectDigest } from './audit.js';
import type { AuditSink } from './audit.js';
import { decide } from './decide.js';
import type { DecideOptions, Decision } from './decide.js';
import type { WebhookMetrics } from './metrics.js';
import { decideProtect, stampPatch } from './protect.js';
import { approvalStampPatch } from './stamp.js';
import type { ProtectConfig, ProtectResult } from './protect.js';
import type { ObservedIdentityRecorder } from './observed.js';
import type { Snapshot } from './snapshot.js';
import { withApprovalRequests } from './snapshot.js';
import { agentResponse } from './response.js';
import { REASON, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../api/reasons.js';

/** The apiserver writes this (and the webhook only reads it): approvals and their use. */
export interface ApprovalStore {
  get(namespace: string, name: string): Promise<ApprovalRequest | undefined>;
  create(ar: ApprovalRequest): Promise<ApprovalRequest>;
  replaceStatus(ar: ApprovalRequest): Promise<ApprovalRequest>;
  /** Resolves with the request once its stored phase is no longer Pending, or undefined at the deadline. */
  waitDecided(namespace: string, name: string, deadline: number): Promise<ApprovalRequest | undefined>;
}

export class KubeApprovalStore implements ApprovalStore {
  constructor(
    private readonly client: AgentgateClient,
    private readonly onChange?: (listener: (ar: ApprovalRequest) => void) => () => void,
  ) {}
  async get(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    try {
      return await this.client.get<ApprovalRequest>('ApprovalRequest', name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
  create(ar: ApprovalRequest): Promise<ApprovalRequest> {
    return this.client.create<ApprovalRequest>('ApprovalRequest', ar, ar.metadata.namespace);
  }
  replaceStatus(ar: ApprovalRequest): Promise<ApprovalRequest> {
    return this.client.replaceStatus<ApprovalRequest>('ApprovalRequest', ar.metadata.name ?? '', ar, ar.metadata.namespace);
  }
  /** Wakes on informer events for the request, and polls as a fallback in case the watch lags. */
  waitDecided(namespace: string, name: string, deadline: number): Promise<ApprovalRequest | undefined> {
    return new Promise((resolve) => {
      let done = false;
      let poll: NodeJS.Timeout | undefined;
      const finish = (ar: ApprovalRequest | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(poll);
        clearTimeout(timer);
        unsubscribe?.();
        resolve(ar);
      };
      const decided = (ar: ApprovalRequest | undefined) => ar && (ar.status?.phase ?? 'Pending') !== 'Pending';
      const unsubscribe = this.onChange?.((ar) => {
        if (ar.metadata.namespace === namespace && ar.metadata.name === name && decided(ar)) finish(ar);
      });
      const timer = setTimeout(() => finish(undefined), Math.max(0, deadline - Date.now()));
      const tick = async (): Promise<void> => {
        if (done) return;
        try {
          const ar = await this.get(namespace, name);
          if (decided(ar)) return finish(ar);
        } catch {
          /* keep waiting */
        }
        if (!done) poll = setTimeout(() => void tick(), 1000);
      };
      poll = setTimeout(() => void tick(), 1000);
    });
  }
}

/**
 * Says so in status (ORIGIN column) until the apiserver's audit log confirms the held call
 * (audit/apiserver/confirm.ts): the review that created the request may have been sent by
 * anyone. Best effort: an absent origin reads as unconfirmed everywhere too.
 */
async function markOriginUnconfirmed(approvals: ApprovalStore, created: ApprovalRequest, log: Logger): Promise<ApprovalRequest | undefined> {
  const { namespace = '', name = '' } = created.metadata;
  try {
    // The operator writes its first status at once too: on a conflict read again, and write
    // only while no origin is set (never over the sink's Confirmed).
    const { written, last } = await writeWithConflictRetry<ApprovalRequest>(
      created,
      () => approvals.get(namespace, name),
      (current) => (current.status?.origin ? undefined : { ...current, status: { ...(current.status ?? {}), origin: 'Unconfirmed' as const } }),
      (next) => approvals.replaceStatus(next),
      3,
    );
    return written ?? last;
  } catch (err) {
    log.info('approval request origin not marked Unconfirmed (it reads so anyway)', {
      approvalRequest: `${namespace}/${name}`,
      error: errorMessage(err),
    });
    return undefined;
  }
}

export interface AgentAdmissionDeps {
  snapshot: () => Snapshot;
  clock: Clock;
  options: DecideOptions;
  approvals: ApprovalStore;
  audit: AuditSink;
  log: Logger;
  metrics: WebhookMetrics;
  /** HMAC key for the audit record's object digest. */
  digestKey: string;
  /** Records the identity the apiserver attached to an agent's call (webhook/observed.ts). */
  observed?: ObservedIdentityRecorder;
}

interface AgentOutcome {
  decision: Decision;
  response: AdmissionResponse;
  auditEvent?: string;
}

function denyResponse(uid: string, message: string, code = 403): AdmissionResponse {
  return { uid, allowed: false, status: { code, reason: 'Forbidden', message } };
}

const MAX_REASON = 4000;

function auditSpec(request: AdmissionRequest, d: Decision, now: Date, digestKey: string, fromApiserver: boolean): UnchainedSpec {
  const spec: UnchainedSpec = {
    time: now.toISOString(),
    user: request.userInfo?.username ?? '',
    operation: request.operation,
    group: request.resource.group,
    version: request.resource.version,
    resource: request.resource.resource,
    decision: d.verdict,
    reason: d.message.length > MAX_REASON ? `${d.message.slice(0, MAX_REASON)}…` : d.message,
    requestUID: request.uid,
  };
  if (d.agent) spec.agent = d.agent;
  if (request.userInfo?.groups?.length) spec.groups = [...request.userInfo.groups];
  if (request.subResource) spec.subresource = request.subResource;
  if (request.namespace) spec.namespace = request.namespace;
  if (request.name) spec.name = request.name;
  const command = execCommand(request);
  if (command) spec.command = command;
  if (d.matchedRules.length) spec.matchedRules = d.matchedRules;
  if (d.grant) spec.grant = d.grant;
  if (d.approvalRequest) spec.approvalRequest = d.approvalRequest;
  const target = request.object ?? request.oldObject;
  spec.objectDigest = d.fingerprint ?? (target ? objectDigest(canonicalize(target), digestKey) : createHash('sha256').update('').digest('hex'));
  // Absent: the review could have come from anyone; the apiserver's audit log confirms it
  // through the audit-event annotation (agents.agentgate.io/audit-event in its event) returned below.
  if (fromApiserver) spec.confirmedBy = 'ClientCertificate';
  return spec;
}

/** Decides an agent's call, performs the decision's write, holds, records, answers. */
export async function admitAgentCall(request: AdmissionRequest, deps: AgentAdmissionDeps, fromApiserver = false): Promise<AgentOutcome> {
  const { clock, options, approvals, log, metrics } = deps;
  const started = Date.now();
  const fresh: ApprovalRequest[] = [];
  const overlay = (ar: ApprovalRequest | undefined): void => {
    if (!ar) return;
    const i = fresh.findIndex((x) => x.metadata.name === ar.metadata.name && x.metadata.namespace === ar.metadata.namespace);
    if (i >= 0) fresh.splice(i, 1);
    fresh.push(ar);
  };
  let decision = decide(request, deps.snapshot(), clock, options);
  if (!decision.agentCall) return { decision, response: { uid: request.uid, allowed: true } };
  if (deps.observed && decision.agent) {
    const agent = deps
      .snapshot()
      .agents()
      .find((a) => a.metadata.name === decision.agent);
    if (agent) deps.observed.observe(agent, request.userInfo ?? {});
  }

  let held = false;
  let writeError: string | undefined;
  for (let round = 0; round < 6; round++) {
    const effect = decision.effect;
    if (effect.kind === 'none') break;
    let again = false;
    try {
      if (effect.kind === 'create') {
        const { namespace, name } = effect.approvalRequest.metadata;
        try {
          const created = await approvals.create(effect.approvalRequest);
          overlay(created);
          log.info('approval request created', { uid: request.uid, approvalRequest: `${namespace}/${name}`, agent: decision.agent });
          overlay(await markOriginUnconfirmed(approvals, created, log));
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          overlay(await approvals.get(namespace ?? '', name ?? ''));
          again = true;
        }
      } else if (effect.kind === 'consume') {
        const current = withApprovalRequests(deps.snapshot(), fresh).approvalRequest(effect.namespace, effect.name);
        if (!current) {
          overlay(await approvals.get(effect.namespace, effect.name));
          again = true;
        } else {
          const body: ApprovalRequest = {
            ...current,
            metadata: { ...current.metadata, resourceVersion: effect.resourceVersion },
            status: consumedStatus(current, request.uid, clock.now()),
          };
          try {
            overlay(await approvals.replaceStatus(body));
            break;
          } catch (err) {
            if (!isConflict(err)) throw err;
            // Another retry (or replica) changed it first: read it and decide again.
            overlay(await approvals.get(effect.namespace, effect.name));
            again = true;
          }
        }
      }
      if (!again && !held && decision.holdSeconds > 0 && (effect.kind === 'create' || effect.kind === 'await')) {
        const { namespace, name } =
          effect.kind === 'create' ? { namespace: effect.approvalRequest.metadata.namespace ?? '', name: effect.approvalRequest.metadata.name ?? '' } : effect;
        held = true;
        const holdStart = Date.now();
        const ar = await approvals.waitDecided(namespace, name, started + decision.holdSeconds * 1000);
        metrics.holdSeconds.observe({ outcome: ar ? (ar.status?.phase ?? 'Pending') : 'Timeout' }, (Date.now() - holdStart) / 1000);
        if (ar) {
          overlay(ar);
          again = true;
        }
      }
    } catch (err) {
      writeError = errorMessage(err);
      log.error('approval request write failed', { uid: request.uid, error: writeError, effect: effect.kind });
      break;
    }
    if (!again) break;
    decision = decide(request, withApprovalRequests(deps.snapshot(), fresh), clock, options);
  }

  if (writeError !== undefined) {
    decision = {
      ...decision,
      verdict: decision.verdict === 'Allowed' ? 'Denied' : decision.verdict,
      reason: REASON.Unavailable,
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      effect: { kind: 'none' },
      message: `${decision.message} (agentgate could not ${decision.effect.kind === 'consume' ? 'use the approval' : 'store the approval request'}: ${writeError})`,
    };
  } else if (decision.effect.kind === 'consume' && !fresh.some((ar) => ar.status?.phase === 'Consumed' && ar.status.consumedBy === request.uid)) {
    // Ran out of rounds without winning the approval: fail closed.
    decision = {
      ...decision,
      verdict: 'Held',
      reason: REASON.Unavailable,
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
      effect: { kind: 'none' },
      message: `${decision.message} (the approval was used concurrently; retry)`,
    };
  }

  let auditEvent: string | undefined;
  let writeStarted: number | undefined;
  if (request.dryRun) {
    metrics.auditWrites.inc({ result: 'skipped' });
  } else {
    try {
      const spec = auditSpec(request, decision, clock.now(), deps.digestKey, fromApiserver);
      writeStarted = performance.now();
      auditEvent = await deps.audit.write(spec);
      metrics.auditWriteSeconds.labels('ok').observe((performance.now() - writeStarted) / 1000);
      metrics.auditWrites.labels('ok').inc();
    } catch (err) {
      if (writeStarted !== undefined) metrics.auditWriteSeconds.observe({ result: 'error' }, (performance.now() - writeStarted) / 1000);
      metrics.auditWrites.inc({ result: 'error' });
      const why = errorMessage(err);
      log.error('audit write failed; denying', { uid: request.uid, agent: decision.agent, error: why });
      decision = {
        ...decision,
        verdict: 'Denied',
        reason: REASON.Unavailable,
        retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
        message: `agentgate: denied because the audit record could not be written (${why}); no agent call goes through unrecorded`,
      };
    }
  }

  const rules = decision.matchedRules.length ? decision.matchedRules : [''];
  for (const rule of rules) metrics.decisions.labels(decision.verdict, decision.agent ?? '', rule).inc();
  // The audit record is the record of every call; the log line is for people watching the
  // webhook: allowed calls only at debug, and built only when that level is on.
  const level = decision.verdict === 'Allowed' ? 'debug' : 'info';
  if (log.isLevelEnabled(level)) {
    log.log(level, 'agent call', {
      uid: request.uid,
      agent: decision.agent,
      user: request.userInfo?.username,
      operation: request.operation,
      resource: request.resource.resource,
      group: request.resource.group,
      subresource: request.subResource || undefined,
      namespace: request.namespace,
      name: request.name,
      command: execCommand(request),
      decision: decision.verdict,
      reason: decision.message,
      rules: decision.matchedRules,
      grant: decision.grant,
      approvalRequest: decision.approvalRequest,
      dryRun: request.dryRun || undefined,
      auditEvent,
    });
  }
  const response = agentResponse(request.uid, decision);
  // The apiserver prefixes each key with the webhook's name (`agents.agentgate.io/audit-event`)
  // and drops keys that then are not qualified names, so the keys carry no prefix of their own.
  if (auditEvent) response.auditAnnotations = { [AUDIT_EVENT_ANNOTATION]: auditEvent, decision: decision.verdict };
  return { decision, response, ...(auditEvent ? { auditEvent } : {}) };
}

interface ProtectDeps {
  snapshot: () => Snapshot;
  clock: Clock;
  config: ProtectConfig;
  approvals: ApprovalStore;
  log: Logger;
  metrics: WebhookMetrics;
}

/** Guards agentgate's objects. A decision only: it writes nothing (see protect.ts). */
export async function admitProtected(request: AdmissionRequest, deps: ProtectDeps): Promise<AdmissionResponse> {
  const result: ProtectResult = decideProtect(request, deps.snapshot(), deps.clock, deps.config);
  if (!result.allowed || (request.resource.resource === 'approvalrequests' && request.operation === 'UPDATE' && !request.subResource)) {
    deps.log.info('protect', {
      uid: request.uid,
      user: request.userInfo?.username,
      operation: request.operation,
      resource: request.resource.resource,
      subresource: request.subResource || undefined,
      namespace: request.namespace,
      name: request.name,
      allowed: result.allowed,
      reason: result.message,
    });
  }
  const response: AdmissionResponse = result.allowed ? { uid: request.uid, allowed: true } : denyResponse(request.uid, result.message);
  if (result.warnings?.length) response.warnings = result.warnings;
  return response;
}

/** /mutate/stamp: the creator of an AccessGrant, and an approver's decision on an ApprovalRequest, from userInfo. */
export function admitStamp(request: AdmissionRequest): AdmissionResponse {
  let patch: unknown[] = [];
  if (request.operation === 'CREATE' && request.resource.resource === 'accessgrants' && !request.subResource) patch = stampPatch(request);
  else if (request.operation === 'UPDATE' && request.resource.resource === 'approvalrequests' && !request.subResource) patch = approvalStampPatch(request);
  if (!patch.length) return { uid: request.uid, allowed: true };
  return { uid: request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') };
}
