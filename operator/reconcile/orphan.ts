// RoleBindings labelled as agentgate's that name no AccessGrant at all: nothing can
// justify them, so they go.
import { LABEL_GRANT } from '../../api/types.js';
import { DONE, retrySoon, type ReconcileContext, type Result } from './context.js';
import { deleteBinding } from './writes.js';

export async function reconcileOrphanBinding(c: ReconcileContext, namespace: string, name: string): Promise<Result> {
  const b = c.cache.binding(namespace, name);
  if (!b) return DONE;
  const owner = b.metadata?.ownerReferences?.find((r) => r.kind === 'AccessGrant' && r.controller);
  if (owner || b.metadata?.labels?.[LABEL_GRANT]) return DONE;
  if ((await deleteBinding(c, namespace, name, b.metadata?.uid)) === 'conflict') return retrySoon();
  c.log.warn('orphan rolebinding deleted', { roleBinding: `${namespace}/${name}`, why: 'labelled as managed by agentgate but names no AccessGrant' });
  return DONE;
}
