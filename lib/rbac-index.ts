// RBAC bindings found by subject: "which bindings can name this user?" costs the bindings
// under the user's name and groups, not every binding in the cluster. The keys follow
// subjectMatchesUser (lib/rbac.ts): a ServiceAccount subject is found under its username.
import { serviceAccountUsername } from './rbac.js';
import type { RbacSubject } from './rbac.js';

/** The key a subject is found under: users (ServiceAccounts by their username) and groups. */
export function subjectKey(s: RbacSubject, bindingNamespace: string | undefined): string | undefined {
  if (s.kind === 'User') return s.name ? `User\u0000${s.name}` : undefined;
  if (s.kind === 'Group') return `Group\u0000${s.name}`;
  if (s.kind === 'ServiceAccount') {
    const ns = s.namespace || bindingNamespace;
    return ns && s.name ? `User\u0000${serviceAccountUsername(ns, s.name)}` : undefined;
  }
  return undefined;
}

/** The keys under which bindings naming this user or any of these groups are found. */
export function userKeys(user: string | undefined, groups: readonly string[]): string[] {
  return [...(user ? [`User\u0000${user}`] : []), ...groups.map((g) => `Group\u0000${g}`)];
}

/** Bindings by the keys of their subjects; lookups return them in their original order, once each. */
export class BindingsBySubject<B extends { metadata?: { namespace?: string }; subjects?: RbacSubject[] }> {
  private readonly byKey = new Map<string, number[]>();
  constructor(readonly bindings: readonly B[]) {
    bindings.forEach((b, i) => {
      for (const s of b.subjects ?? []) {
        const k = subjectKey(s, b.metadata?.namespace);
        if (!k) continue;
        let list = this.byKey.get(k);
        if (!list) this.byKey.set(k, (list = []));
        if (list[list.length - 1] !== i) list.push(i);
      }
    });
  }

  /** Answers by key set: one principal asks hundreds of questions of the same bindings. */
  private readonly found = new Map<string, B[]>();

  /** Every binding with a subject under one of these keys (a superset of those that match; callers still match). */
  find(keys: readonly string[]): B[] {
    const memo = keys.join('\u0001');
    const hit = this.found.get(memo);
    if (hit) return hit;
    const idx = new Set<number>();
    for (const k of keys) for (const i of this.byKey.get(k) ?? []) idx.add(i);
    const out = [...idx].sort((a, b) => a - b).map((i) => this.bindings[i]!);
    this.found.set(memo, out);
    return out;
  }
}
