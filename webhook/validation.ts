// Validation of AgentIdentities and AccessGrants beyond what the CRD schema can say:
// rules compile (errors name the field, line and column), a grant fits its agent's
// ceiling, and an agent asking for its own access asks properly. Pure.

import type { AccessGrant, AgentIdentity } from '../api/types.js';
import { parseDuration, formatDuration } from '../lib/clock.js';
import { serviceAccountUsername } from '../lib/rbac.js';
import { selectorMatches } from '../lib/selector.js';
import { DEFAULT_RULES } from './rules/catalogue.js';
import { buildRuleSet } from './rules/evaluate.js';
import type { NamespaceLike } from './snapshot.js';

/** Whether the agent's ceiling allows a grant in this namespace; a selector needs the Namespace's labels. */
export function namespaceAllowed(agent: AgentIdentity, namespace: string, ns: NamespaceLike | undefined): boolean {
  const allowed = agent.spec.allowedNamespaces;
  if ((allowed.names ?? []).includes(namespace)) return true;
  if (allowed.selector && ns) return selectorMatches(allowed.selector, ns.metadata?.labels);
  return false;
}

export function roleAllowed(agent: AgentIdentity, roleRef: { kind: string; name: string }): boolean {
  return agent.spec.allowedRoles.some((r) => r.kind === roleRef.kind && r.name === roleRef.name);
}

/** Problems that put a grant outside its agent's ceiling, each naming the field. */
export function grantCeilingProblems(grant: AccessGrant, agent: AgentIdentity, ns: NamespaceLike | undefined, agentgateNamespace: string): string[] {
  const problems: string[] = [];
  const namespace = grant.metadata.namespace ?? '';
  const agentName = agent.metadata.name ?? '';
  if (namespace === agentgateNamespace) {
    problems.push(`metadata.namespace: grants in ${agentgateNamespace} would let the agent reach agentgate itself; use the workload's namespace`);
  } else if (!namespaceAllowed(agent, namespace, ns)) {
    problems.push(`metadata.namespace: namespace ${namespace} is not in AgentIdentity ${agentName}'s spec.allowedNamespaces`);
  }
  if (!roleAllowed(agent, grant.spec.roleRef)) {
    const allowed = agent.spec.allowedRoles.map((r) => `${r.kind}/${r.name}`).join(', ');
    problems.push(`spec.roleRef: ${grant.spec.roleRef.kind}/${grant.spec.roleRef.name} is not in AgentIdentity ${agentName}'s spec.allowedRoles (${allowed})`);
  }
  const max = parseDuration(agent.spec.maxDuration);
  if (grant.spec.duration !== undefined) {
    const d = parseDuration(grant.spec.duration);
    if (d !== undefined && max !== undefined && d > max) {
      problems.push(`spec.duration: ${grant.spec.duration} exceeds AgentIdentity ${agentName}'s spec.maxDuration ${agent.spec.maxDuration}`);
    }
  } else if (grant.spec.notAfter !== undefined && grant.spec.notBefore !== undefined && max !== undefined) {
    const span = Date.parse(grant.spec.notAfter) - Date.parse(grant.spec.notBefore);
    if (span > max) problems.push(`spec.notAfter: the window (${formatDuration(span)}) exceeds AgentIdentity ${agentName}'s spec.maxDuration ${agent.spec.maxDuration}`);
  }
  return problems;
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

export interface ValidationResult {
  errors: string[];
  warnings: string[];
}

export interface AgentValidationContext {
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
  if (parseDuration(agent.spec.maxDuration) === undefined) errors.push(`spec.maxDuration: ${JSON.stringify(agent.spec.maxDuration)} is not a Go duration such as 30m or 8h`);
  const mine = new Set(agent.spec.subjects.map(subjectKey));
  for (const other of ctx.others) {
    if (other.metadata.name === agent.metadata.name) continue;
    const shared = other.spec.subjects.map(subjectKey).filter((k) => mine.has(k));
    if (shared.length) {
      warnings.push(`spec.subjects: ${shared.join(', ')} also belongs to AgentIdentity ${other.metadata.name}; agentgate denies every call of an ambiguous identity until only one AgentIdentity claims it`);
    }
  }
  return { errors, warnings };
}

export function validateAccessGrant(grant: AccessGrant, agent: AgentIdentity | undefined, ns: NamespaceLike | undefined, agentgateNamespace: string): ValidationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (!agent) {
    warnings.push(`spec.agent: AgentIdentity ${grant.spec.agent} does not exist (yet); the grant stays inactive until it does`);
  } else {
    errors.push(...grantCeilingProblems(grant, agent, ns, agentgateNamespace));
  }
  const set = buildRuleSet(DEFAULT_RULES, agent?.spec.approvalRules, grant.spec.approvalRules, agent?.spec.disabledDefaultRules);
  for (const e of set.errors) if (e.source === 'grant') errors.push(e.text);
  return { errors, warnings };
}
