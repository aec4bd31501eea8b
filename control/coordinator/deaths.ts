import type { NodeView } from '../placement/types.js'

// Since when each etcd member has been down, carried from coordinator to coordinator
// in the placement record. A coordinator's own mesh only knows when *it* saw a node
// die, and a coordinator whose agent started after the death never saw it at all:
// without this, every change of coordinator would restart the failover grace, and a
// member unknown to a fresh mesh would never be replaced. Pure: no clock, no I/O.

/**
 * The first-seen-down time of every member (voters and learners) that is down now:
 * the earliest of what the mesh says and what earlier coordinators recorded. A
 * member unknown to the mesh counts from the record, else from now. A member that is
 * up again has no entry: a flap restarts its grace.
 */
export function carryDeaths(
  members: readonly string[],
  views: ReadonlyMap<string, NodeView>,
  recorded: Readonly<Record<string, number>>,
  nowMs: number,
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const id of [...members].sort()) {
    const v = views.get(id)
    const before = recorded[id]
    if (v && v.alive && v.state !== 'dead') continue
    const seen = v?.deadSinceMs ?? nowMs
    // A time from the future (a skewed clock) is no evidence: count from now.
    const earliest = Math.min(
      seen,
      before !== undefined && before <= nowMs ? before : Number.POSITIVE_INFINITY,
    )
    // Whole milliseconds: the record's schema refuses a fraction (a coordinator would
    // then refuse the record it wrote itself, and the time of death would be lost).
    out[id] = Math.floor(Math.min(earliest, nowMs))
  }
  return out
}

/**
 * The views placement reads, with recorded deaths applied: a down member's grace counts
 * from its recorded time; a member the mesh does not know at all appears as a dead node
 * of unknown kind (never eligible), so it can be replaced once the grace is over.
 */
export function applyDeaths(
  views: readonly NodeView[],
  deaths: Readonly<Record<string, number>>,
): NodeView[] {
  const out = views.map((v) => {
    const since = deaths[v.id]
    return since !== undefined && (!v.alive || v.state === 'dead') ? { ...v, deadSinceMs: since } : v
  })
  const known = new Set(views.map((v) => v.id))
  for (const [id, since] of Object.entries(deaths)) {
    if (known.has(id)) continue
    out.push({
      id,
      name: id,
      arch: 'unknown',
      alive: false,
      state: 'dead',
      deadSinceMs: since,
      optedOut: false,
      memoryMB: 0,
      cores: 0,
      storageClass: 'unknown',
      fsyncP99Ms: null,
    })
  }
  return out
}
