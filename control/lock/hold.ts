import { ROLLOUT_KEY, RolloutBody } from '../rollout/record.js'

// The rollout's hold on the cluster lock. The lock key is bound to its holder's lease, so
// it lapses with the holder — but a rollout's disruption of a node outlives any one
// holder: the node is drained, rebooted and gated across coordinator restarts, the
// coordinator's own reboot among them. The node in progress is in the rollout record
// (no lease: it survives every coordinator), so the record's node in progress is part of
// the lock: every other taker refuses while it is set (decide.ts), fenced on the record's
// revision in the same transaction that takes the key (take.ts). It ends when the rollout
// finishes the node (back, gated, committed, uncordoned) or lets it go because it stayed
// away its lease (`nodeGoneMs`: "upgraded when it comes back") or left the cluster.

export interface RolloutHold {
  /** The node the rollout disrupts now (its name). */
  node: string
  step: string
  /** When the rollout began with it (the coordinator's clock). */
  sinceMs: number
}

export type ReadHold =
  | { ok: true; hold: RolloutHold | null }
  /** A record that is not a rollout record: nobody can tell what it holds. */
  | { ok: false; error: string }

/**
 * The hold in the rollout key's value (absent: none). The CA signature is not checked
 * here: whoever can write this key can write the lock key too; the lock relies on etcd's
 * access control, as the lock key does.
 */
export function rolloutHoldOf(value: string | undefined): ReadHold {
  if (value === undefined) return { ok: true, hold: null }
  let json: unknown
  try {
    json = JSON.parse(value)
  } catch {
    return { ok: false, error: `${ROLLOUT_KEY} is not JSON` }
  }
  const body = RolloutBody.safeParse((json as { body?: unknown } | null)?.body)
  if (!body.success) return { ok: false, error: `${ROLLOUT_KEY} is not a rollout record` }
  const cur = body.data.current
  return { ok: true, hold: cur ? { node: cur.name, step: cur.step, sinceMs: cur.startedAtMs } : null }
}
