// Boundary verification of a live cluster: collect the snapshot (boundary/snapshot.ts),
// then verify it (boundary/verify.ts). The entry point of the operator's periodic
// verification and of `agentgate verify`.
import type * as k8s from '@kubernetes/client-node';
import { collectSnapshot, type CollectOptions } from './snapshot.js';
import type { BoundaryReport, VerifyOptions } from './types.js';
import { verifyAgents } from './verify.js';

/** Collect + verify: what the operator's periodic verification and `agentgate verify` run. */
export async function verifyCluster(kc: k8s.KubeConfig, options: CollectOptions & VerifyOptions = {}): Promise<BoundaryReport & { reviewErrors: string[] }> {
  const { snapshot, reviewErrors } = await collectSnapshot(kc, options);
  const verifyOpts: VerifyOptions = {};
  if (options.now) verifyOpts.now = options.now;
  if (options.expiryGraceMs !== undefined) verifyOpts.expiryGraceMs = options.expiryGraceMs;
  if (options.agents) verifyOpts.agents = options.agents;
  return { ...verifyAgents(snapshot, verifyOpts), reviewErrors };
}
