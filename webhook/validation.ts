// Validation of AgentIdentities and AccessGrants beyond what the CRD schema can say:
// rules compile (errors name the field, line and column), a grant fits its agent's
// ceiling (the shared chain in lib/ceiling.ts, every problem), and an agent asking for its own access asks properly. Pure.

import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { ceilingProblems } from '../lib/ceiling.js';
import { parseDuration } from '../lib/clock.js';
import { serviceAccountUsername } from '../lib/rbac.js';
import { DEFAULT_RULES } from './rules/catalogue.js';
import { buildRuleSet } from './rules/evaluate.js';
import type { NamespaceLike } from './snapshot.js';

/** A Namespace's labels as the ceiling reads them: undefined when the Namespace is not known. */
export function namespaceLabels(ns: NamespaceLike | undefined): Record<string, string> | undefined {
  return ns ? (ns.metadata?.labels ?? {}) : undefined;
}

/** What an agent asking for its own access must get right (beyond the ceiling). */
export function selfRequestProblems(grant: AccessGrant, agent: AgentIdentity): string[] {
  const problems: string[] = [];
  const name = agent.metadata.name ?? '';
  if (grant.spec.agent !== name) {
    problems.push(`spec.agent: agent ${name} may only request grants for itself (spec.agent: ${name}), not for ${grant.spec.agent}`);
  }
  if (grant.spec.activation !== 'RequiresApproval') {
    problems.push('spec.activation: a grant requested by an agent must wait for a human; set spec.activation: RequiresApproval');
  }
  return problems;
}

interface ValidationResult {
  errors: string[];
  warnings: string[];
}

interface AgentValidationContext {
  /** agentgate's own ServiceAccounts' usernames: an agent may never be one of them. */
  agentgateUsers: readonly string[];
  /** Other AgentIdentities, to warn about shared subjects (which deny both agents' calls). */
  others: readonly AgentIdentity[];
}

function subjectKey(s: AgentIdentity['spec']['subjects'][number]): string {
  return s.kind === 'ServiceAccount' ? `User:${serviceAccountUsername(s.namespace ?? '', s.name)}` : `${s.kind}:${s.name}`;
}

export function validateAgentIdentity(agent: AgentIdentity, ctx: AgentValidationContext): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const set = buildRuleSet(DEFAULT_RULES, agent.spec.approvalRules, undefined, agent.spec.disabledDefaultRules);
  for (const e of set.errors) errors.push(e.text);
  warnings.push(...set.warnings);
  agent.spec.subjects.forEach((s, i) => {
    if (s.kind === 'User' && ctx.agentgateUsers.includes(s.name)) errors.push(`spec.subjects[${i}]: ${s.name} is agentgate itself and cannot be an agent`);
    if (s.kind === 'ServiceAccount' && ctx.agentgateUsers.includes(serviceAccountUsername(s.namespace ?? '', s.name))) {
      errors.push(`spec.subjects[${i}]: ServiceAccount ${s.namespace}/${s.name} is agentgate itself and cannot be an agent`);
    }
  });
  if (parseDuration(agent.spec.maxDuration) === undefined)
    errors.push(`spec.maxDuration: ${JSON.stringify(agent.spec.maxDuration)} is not a Go duration such as 30m or 8h`);
  const mine = new Set(agent.spec.subjects.map(subjectKey));
  for (const other of ctx.others) {
    if (other.metadata.name === agent.metadata.name) continue;
    const shared = other.spec.subjects.map(subjectKey).filter((k) => mine.has(k));
    if (shared.length) {
      warnings.push(
        `spec.subjects: ${shared.join(', ')} also belongs to AgentIdentity ${other.metadata.name}; agentgate denies every call of an ambiguous identity until only one AgentIdentity claims it`,
      );
    }
  }
  return { errors, warnings };
}

export function validateAccessGrant(
  grant: AccessGrant,
  agent: AgentIdentity | undefined,
  ns: NamespaceLike | undefined,
  agentgateNamespace: string,
  now: Date,
): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!agent) {
    warnings.push(`spec.agent: AgentIdentity ${grant.spec.agent} does not exist (yet); the grant stays inactive until it does`);
  } else {
    errors.push(...ceilingProblems({ grant, agent, namespaceLabels: namespaceLabels(ns), agentgateNamespace, now }).map((p) => p.message));
  }
  const set = buildRuleSet(DEFAULT_RULES, agent?.spec.approvalRules, grant.spec.approvalRules, agent?.spec.disabledDefaultRules);
  for (const e of set.errors) if (e.source === 'grant') errors.push(e.text);
  return { errors, warnings };
}
