import type { Eligibility, RefusalCode } from './eligibility.js'
import type { PlacementPolicy } from './policy.js'
import { sortIdsByRank } from './rank.js'
import type { NodeView } from './types.js'

// Which boards should be voters. Pure set arithmetic; the order of changes that gets
// there is next-action.ts's job.
//
// Size rule: T = the largest odd number <= min(votersTarget, E), where E counts the
// boards that could hold a vote (eligible nodes, plus members we keep: see below).
// So 1 voter while E < 3, then 3: never 2 by choice, since two voters tolerate no
// failure and need both for every write.
//
// Except: we never *remove* healthy voters just to get an odd count. The size is
// max(T, min(kept voters, votersTarget)), so 2 voters with no third board stay 2:
//  - shrinking 2 -> 1 is itself a membership change, done at a fragile moment;
//  - 2 voters keep the data on two disks: if either board dies, the other holds a
//    full copy to recover from (`homecloud recover`), a lone voter's SD card does not;
//  - when a third board appears we need one addition instead of two.
// Above votersTarget (4 voters from some past state) we do shrink: 4 tolerate one
// failure, like 3, but need 3 acks per write.

/** How placement treats an existing member. */
export type MemberClass =
  /** Eligible: sticky, stays even if a better board arrives. */
  | 'healthy'
  /** Down within the failover grace, suspect, or unknown to the mesh: sticky, not replaced. */
  | 'transient'
  /** Up (or briefly down) but no longer eligible (opted out, arch, fsync, pending): replaced
   * when a replacement exists, kept as a last resort otherwise. */
  | 'soft'
  /** Dead beyond the grace, or revoked: leaves etcd. */
  | 'hard'

const SOFT_CODES: ReadonlySet<RefusalCode> = new Set([
  'pending',
  'opted-out',
  'arch',
  'no-fsync-probe',
  'slow-fsync',
])

/** `undefined` = the member is not in the mesh view: no evidence, so treated as briefly down. */
export function classifyMember(e: Eligibility | undefined): MemberClass {
  if (e === undefined) return 'transient'
  if (e.liveness.beyondGrace || e.refusals.some((r) => r.code === 'revoked')) return 'hard'
  if (e.refusals.some((r) => SOFT_CODES.has(r.code))) return 'soft'
  return e.eligible ? 'healthy' : 'transient'
}

export function largestOddAtMost(n: number): number {
  if (n < 1) return 0
  return n % 2 === 1 ? n : n - 1
}

export interface TargetPlan {
  /** Desired voters, best-ranked first (preferred architectures before fallback ones). */
  target: string[]
  /** Boards that could hold a vote (E in the size rule). */
  candidateCount: number
  /** Of those, boards of the preferred architectures. */
  preferredCount: number
  /** Target boards of a fallback architecture (filling seats no preferred board can). */
  fallback: string[]
  classes: ReadonlyMap<string, MemberClass>
}

// Fallback tier: a board whose architecture is only in `fallbackArchs` takes a seat only
// when no preferred board can, and gives it back when one can. So the fill order below
// puts every preferred candidate (sticky members first) before any fallback one, and a
// fallback voter — sticky among the fallback boards — yields its seat to a preferred
// newcomer (next-action retires it make-before-break, once the newcomer votes).
export function planTarget(
  byId: ReadonlyMap<string, NodeView>,
  elig: ReadonlyMap<string, Eligibility>,
  voters: readonly string[],
  learners: readonly string[],
  policy: PlacementPolicy,
): TargetPlan {
  const classes = new Map<string, MemberClass>()
  for (const id of [...voters, ...learners]) classes.set(id, classifyMember(elig.get(id)))
  const members = new Set([...voters, ...learners])
  // A member unknown to the mesh keeps its place (no evidence it is a fallback board).
  const isFallback = (id: string) => elig.get(id)?.tier === 'fallback'
  const of = (ids: readonly string[], cls: MemberClass, fallback: boolean) =>
    sortIdsByRank(
      ids.filter((id) => classes.get(id) === cls && isFallback(id) === fallback),
      byId,
    )
  const newcomers = (fallback: boolean) =>
    sortIdsByRank(
      [...byId.keys()].filter(
        (id) => !members.has(id) && elig.get(id)?.eligible && isFallback(id) === fallback,
      ),
      byId,
    )
  // Fill order = stickiness: current voters, then in-flight learners (so a dead
  // voter's replacement is not swapped when the old board comes back), then new
  // boards by rank — the preferred tier, then the fallback tier — then soft voters as
  // a last resort.
  const tier = (fallback: boolean) => [
    ...of(voters, 'healthy', fallback),
    ...of(voters, 'transient', fallback),
    ...of(learners, 'healthy', fallback),
    ...of(learners, 'transient', fallback),
    ...newcomers(fallback),
  ]
  const preferred = tier(false)
  const pool = [...preferred, ...tier(true), ...of(voters, 'soft', false), ...of(voters, 'soft', true)]
  const keptVoters = voters.filter((id) => classes.get(id) !== 'hard').length
  const size = Math.max(
    largestOddAtMost(Math.min(policy.votersTarget, pool.length)),
    Math.min(keptVoters, policy.votersTarget),
  )
  const chosen = pool.slice(0, size)
  const target = [
    ...sortIdsByRank(
      chosen.filter((id) => !isFallback(id)),
      byId,
    ),
    ...sortIdsByRank(chosen.filter(isFallback), byId),
  ]
  return {
    target,
    candidateCount: pool.length,
    preferredCount: preferred.length,
    fallback: target.filter(isFallback),
    classes,
  }
}
