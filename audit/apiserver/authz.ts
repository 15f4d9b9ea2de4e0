// Delegated authorization: every request is a SubjectAccessReview to the kube-apiserver
// (so the cluster's RBAC decides who reads audit records), cached for a few seconds.
import type * as k8s from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import { apiPath, GV, type KubeApi } from '../../lib/kube.js';
import type { UserInfo } from './authn.js';

export interface ResourceAttributes {
  verb: 'get' | 'list' | 'watch';
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
}

export type AccessReviewer = (user: UserInfo, attrs: ResourceAttributes) => Promise<{ allowed: boolean; reason?: string }>;

/** A SubjectAccessReview per (user, attributes), cached 10 s allowed and 2 s denied. */
export function cachedReviewer(review: AccessReviewer): AccessReviewer {
  const cache = new LRUCache<string, { allowed: boolean; reason?: string }>({ max: 5000, ttl: 10_000 });
  return async (user, attrs) => {
    const key = JSON.stringify([user.username, [...user.groups].sort(), user.extra, attrs]);
    const hit = cache.get(key);
    if (hit) return hit;
    const r = await review(user, attrs);
    cache.set(key, r, r.allowed ? {} : { ttl: 2_000 });
    return r;
  };
}

/** The kube-apiserver as the reviewer (needs create subjectaccessreviews: system:auth-delegator). */
export function kubeAccessReviewer(kube: KubeApi): AccessReviewer {
  return async (user, attrs) => {
    const r = await kube.create<k8s.V1SubjectAccessReview>(apiPath(GV.authorization, 'subjectaccessreviews'), {
      apiVersion: GV.authorization,
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        groups: user.groups,
        extra: user.extra,
        ...(user.uid ? { uid: user.uid } : {}),
        resourceAttributes: {
          verb: attrs.verb,
          group: attrs.group,
          version: attrs.version,
          resource: attrs.resource,
          ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
          ...(attrs.name ? { name: attrs.name } : {}),
        },
      },
    } satisfies k8s.V1SubjectAccessReview);
    return { allowed: !!r.status?.allowed && !r.status?.denied, ...(r.status?.reason ? { reason: r.status.reason } : {}) };
  };
}
