import type { ReadHold } from './hold.js'

// Whether a disruptive operation may start now (pure). One disruption at a time is the
// lock itself — its key, and the rollout's hold on a node it is upgrading (hold.ts); this
// adds the cluster's health: never disrupt a second node while one is already down, and
// never while etcd could not survive one more failure.

export interface LockPreconditions {
  /** The node the operation will disrupt (its own readiness does not count against it). */
  node: string
  /**
   * Every Kubernetes Node and whether its Ready condition is True; `left`: why its node is no
   * longer a member (revoked), when known — down for good, so no second disruption.
   */
  nodes: readonly { name: string; ready: boolean; left?: string }[]
  /** etcd voters healthy now, and how many placement wants (its target; else the voter count). */
  voters: { healthy: number; total: number; target: number }
  /** The rollout record's node in progress (absent: not observed, as by the rollout itself). */
  rollout?: ReadHold
  force: boolean
}

export type LockDecision = { ok: true; overridden: string[] } | { ok: false; reasons: string[] }

export function mayTakeLock(p: LockPreconditions): LockDecision {
  const reasons: string[] = []
  const held = p.rollout ? rolloutReason(p.rollout, p.node) : null
  if (held) reasons.push(held)
  // A node that left for good (revoked) keeps its NotReady Node until someone deletes it;
  // it is down for ever, not a node whose disruption another would add to (the rollout
  // passes it the same way: control/rollout/order.ts).
  const notReady = p.nodes.filter((n) => n.name !== p.node && !n.ready && !n.left).map((n) => n.name)
  if (notReady.length > 0)
    reasons.push(`node${notReady.length > 1 ? 's' : ''} ${notReady.join(', ')} NotReady`)
  const want = Math.max(p.voters.target, p.voters.total)
  // A cluster smaller than 3 voters never has a failure to spare: it is only refused
  // when a voter it has is already down.
  if (p.voters.healthy < want)
    reasons.push(`etcd has no failure to spare: ${p.voters.healthy} of ${want} voters healthy`)
  if (reasons.length === 0) return { ok: true, overridden: [] }
  return p.force ? { ok: true, overridden: reasons } : { ok: false, reasons }
}

/**
 * The rollout's node in progress holds the cluster for any other operation, that node's
 * own included (a person's drain or undrain of it would fight the rollout's steps).
 */
function rolloutReason(r: ReadHold, node: string): string | null {
  if (!r.ok) return `the rollout record is unreadable (${r.error}), so what it disrupts is unknown`
  if (!r.hold) return null
  const whose = r.hold.node === node ? 'it' : r.hold.node
  return `a rollout is upgrading ${r.hold.node} (step ${r.hold.step}): it holds the cluster lock until ${whose} is back, committed and uncordoned, or stays away its lease`
}
