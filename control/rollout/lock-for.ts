import { heldByAnotherCoordinator, type ObservedCluster, type RolloutEffect } from './types.js'

// The rollout's own lock key for the node it disrupts (pure; step.ts asks it each pass).

/**
 * The lock for `node`, unless someone else holds it (null: wait). Our own lock lapsed
 * (etcd hiccup, new coordinator): take it again. Held by another coordinator for the
 * rollout — one that lost its seat but lives on, or this node's agent before a restart —
 * it is the rollout's own lock, and that process no longer acts on it (only the
 * coordinator does): take it over, fenced on its token, rather than wait for a lease its
 * keeper may renew for ever. For the node in progress only if it names that node; when
 * picking the next node any (nothing is in progress: the record says so).
 */
export function lockFor(c: ObservedCluster, node: string, picking: boolean): RolloutEffect[] | null {
  const l = c.lock
  // Ours, but still naming the node before (its release was lost with a failed pass): name this one.
  if (l.state === 'ours') return l.node === node ? [] : [{ kind: 'take-lock', node }]
  if (l.state === 'free') return [{ kind: 'take-lock', node }]
  if (heldByAnotherCoordinator(l) && l.token !== null && (picking || l.node === node))
    return [{ kind: 'take-over-lock', node, token: l.token }]
  return null
}
