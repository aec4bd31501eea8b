import type { RolloutHold } from './hold.js'
import { describeHolder, type LockRecord } from './record.js'

// What `upgrade status` and the status page say about the cluster lock (pure). The lock
// is two things (hold.ts): the key, bound to its holder's lease, and the rollout's hold
// on its node in progress, which has no lease. The key alone says "free" whenever the
// rollout's coordinator is between holders — restarting into its own new release, or
// handing over its seat — while every other drain, undrain or shutdown is still refused
// (decide.ts). So the view names the hold first, and the key for what it is.

export interface LockView {
  /** Who holds the key (null: the key is free). */
  key: Pick<LockRecord, 'holder' | 'operation' | 'node' | 'sinceMs'> | null
  /** The rollout's node in progress (null: none). */
  hold: RolloutHold | null
  /** One line for people. */
  summary: string
}

export function lockView(
  key: LockRecord | 'unreadable' | undefined,
  hold: RolloutHold | null,
  nowMs: number,
): LockView {
  const k = key && key !== 'unreadable' ? key : null
  const keyView = k ? { holder: k.holder, operation: k.operation, node: k.node, sinceMs: k.sinceMs } : null
  const held = key === undefined ? null : describeHolder(k ?? undefined, nowMs)
  return { key: keyView, hold, summary: summaryOf(held, k, hold) }
}

function summaryOf(held: string | null, k: LockRecord | null, hold: RolloutHold | null): string {
  if (!hold) return held ? `held by ${held}` : 'free'
  const what = `held by the rollout for ${hold.node} (step ${hold.step})`
  const until = `every other drain, undrain or shutdown waits until ${hold.node} is back, committed and uncordoned`
  if (!held)
    return `${what}: its key is free while no coordinator holds it (one restarting or taking over), but ${until}`
  if (k?.operation === 'upgrade' && k.node === hold.node) return `${what}; ${until}`
  // A forced operation, or a former coordinator's key not yet taken over.
  return `${what}, and its key by ${held}; ${until}`
}
