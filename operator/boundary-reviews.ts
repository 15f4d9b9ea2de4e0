// Where boundary verification gets its access answers: locally from the RBAC objects it
// listed (free), and from SubjectAccessReviews only for a rotating, rate-limited sample
// that cross-checks the local answers. A sample that says "allowed" where RBAC said "no"
// reveals an authorizer the objects do not show (a webhook authorizer, EKS access
// policies): from then on that answer comes from the apiserver, re-asked on every turn
// of the rotation. The rotation covers every review, so the slow full pass is built in.
import type { AccessReviewResult, PlannedReview } from '../boundary/types.js';
import type { Clock } from '../lib/clock.js';
import { LocalRbacAuthorizer, type RbacObjects } from '../lib/rbac-authorizer.js';

export const reviewKey = (r: PlannedReview): string =>
  [r.agent, r.principal.label, r.verb, r.group, r.resource, r.subresource ?? '', r.name ?? '', r.namespace].join('\u0000');

/** A token bucket: at most `ratePerSecond` on average, `burst` at once. */
export class ReviewBudget {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.last = clock.now().getTime();
  }
  /** Takes up to `want` tokens; returns how many it got. */
  take(want: number): number {
    const now = this.clock.now().getTime();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    const got = Math.max(0, Math.min(want, Math.floor(this.tokens)));
    this.tokens -= got;
    return got;
  }
}

export interface Answers {
  results: AccessReviewResult[];
  /** Reviews whose SubjectAccessReview said otherwise than local RBAC, this run. */
  mismatches: { apiserverAllows: number; apiserverDenies: number };
}

export class CrossChecker {
  private cursor = 0;
  /** Answers RBAC objects cannot explain: the apiserver allowed what local RBAC denied. */
  private readonly apiserverOnly = new Map<string, AccessReviewResult>();

  /**
   * The reviews to send this run: the known apiserver-only answers first, then the
   * rotation. `scope`: the agents this plan covers ('all' for a full pass); what the
   * apiserver alone allowed is forgotten only for those agents' questions no longer asked.
   */
  sample(plan: readonly PlannedReview[], n: number, scope: ReadonlySet<string> | 'all' = 'all'): PlannedReview[] {
    const keys = new Set(plan.map(reviewKey));
    for (const [k, r] of [...this.apiserverOnly]) if ((scope === 'all' || scope.has(r.agent)) && !keys.has(k)) this.apiserverOnly.delete(k);
    if (n <= 0 || plan.length === 0) return [];
    const out: PlannedReview[] = [];
    const taken = new Set<string>();
    for (const r of plan) {
      if (out.length >= n) break;
      const k = reviewKey(r);
      if (this.apiserverOnly.has(k)) {
        out.push(r);
        taken.add(k);
      }
    }
    const start = this.cursor % plan.length;
    for (let i = 0; i < plan.length && out.length < n; i++) {
      const r = plan[(start + i) % plan.length]!;
      this.cursor = (start + i + 1) % plan.length;
      if (!taken.has(reviewKey(r))) out.push(r);
    }
    return out;
  }

  /** Local answers for every review, corrected by what the apiserver said in this and earlier samples. */
  answer(plan: readonly PlannedReview[], objects: RbacObjects, fromApiserver: readonly AccessReviewResult[]): Answers {
    const local = new LocalRbacAuthorizer(objects);
    const mismatches = { apiserverAllows: 0, apiserverDenies: 0 };
    // Keys only where an apiserver answer may stand in: a full pass at 1,000 agents asks
    // ~350,000 questions, and a key and map entry for each was most of its CPU.
    const localAnswer = (r: PlannedReview): AccessReviewResult => {
      const d = local.review({ ...r, user: r.principal.user, groups: r.principal.groups });
      return d.reason ? { ...r, allowed: d.allowed, reason: d.reason } : { ...r, allowed: d.allowed };
    };
    for (const s of fromApiserver) {
      const k = reviewKey(s);
      const l = localAnswer(s);
      if (s.allowed) {
        if (l && !l.allowed) mismatches.apiserverAllows++;
        if (l && !l.allowed) this.apiserverOnly.set(k, s);
        else this.apiserverOnly.delete(k);
      } else {
        this.apiserverOnly.delete(k);
        // Local RBAC allows more than the apiserver (an aggregation not yet applied, a
        // deny from another authorizer): the more suspicious local answer stands.
        if (l?.allowed) mismatches.apiserverDenies++;
      }
    }
    const results = plan.map((r) => (this.apiserverOnly.size ? this.apiserverOnly.get(reviewKey(r)) : undefined) ?? localAnswer(r));
    return { results, mismatches };
  }
}
