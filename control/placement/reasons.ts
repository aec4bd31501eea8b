import type { Eligibility } from './eligibility.js'
import type { PlacementPolicy } from './policy.js'
import type { MemberClass } from './target.js'
import type { MemberSet, NodeReason, PlacementAction } from './types.js'

// One line per node for the status page: why it is, or is not, a voter.

export function ordinal(n: number): string {
  const tens = n % 100
  if (tens >= 11 && tens <= 13) return `${n}th`
  const suffix = n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th'
  return `${n}${suffix}`
}

function seconds(ms: number): string {
  return `${Math.floor(ms / 1000)} s`
}

export interface ReasonInput {
  id: string
  /** The node's architecture, when the mesh knows the node. */
  arch?: string
  e: Eligibility | undefined
  cls: MemberClass | undefined
  /** 1-based position among eligible nodes; undefined when not eligible. */
  rank: number | undefined
  current: MemberSet
  targetSet: ReadonlySet<string>
  targetSize: number
  /** Boards of the preferred architectures that could hold a vote. */
  preferredCount: number
  next: PlacementAction
  policy: PlacementPolicy
}

/** "an arm64/arm board" */
function boardOf(policy: PlacementPolicy): string {
  const archs = policy.eligibleArchs.join('/')
  return `${/^[aeiou]/.test(archs) ? 'an' : 'a'} ${archs} board`
}

/** "only 2 arm64/arm boards can hold etcd" — why a fallback board holds (or would hold) a seat. */
function fallbackWhy(x: ReasonInput): string {
  const archs = x.policy.eligibleArchs.join('/')
  const n = x.preferredCount
  return `only ${n} ${archs} board${n === 1 ? '' : 's'} can hold etcd`
}

function sticky(e: Eligibility | undefined, policy: PlacementPolicy): string {
  if (e === undefined) return 'voter (sticky): unknown to the mesh, treated as down'
  const l = e.liveness
  if (l.status === 'down') {
    const grace = seconds(policy.failoverGraceMs)
    if (l.downForMs === null) return `voter (sticky): down, since unknown (grace ${grace})`
    return `voter (sticky): down ${seconds(l.downForMs)} of ${grace} grace`
  }
  if (l.status === 'suspect') return 'voter (sticky): suspect'
  return 'voter (sticky)'
}

function leaving(role: string, x: ReasonInput): string {
  const { e, cls } = x
  if (cls === 'hard') {
    if (e?.liveness.beyondGrace && e.liveness.downForMs !== null) {
      return `${role}, leaving: dead ${seconds(e.liveness.downForMs)}, past the ${seconds(x.policy.failoverGraceMs)} grace`
    }
    return `${role}, leaving: revoked`
  }
  if (cls === 'soft') return `${role}, leaving: ${e?.refusals[0]?.text ?? 'not eligible'}`
  if (e?.tier === 'fallback') return `${role}, leaving: ${boardOf(x.policy)} takes its fallback seat`
  if (role === 'voter') return `voter, leaving: surplus (${x.current.voters.length} voters > ${x.targetSize})`
  return 'learner, leaving: not needed'
}

export function nodeReason(x: ReasonInput): NodeReason {
  const { id, e, cls, rank, current, targetSet, next } = x
  const eligible = e?.eligible ?? false
  const chosen = targetSet.has(id)
  const why = (text: string): NodeReason => ({ eligible, chosen, why: text })
  const isNext = next.kind !== 'none' && next.kind !== 'wait' && next.id === id

  if (current.voters.includes(id)) {
    if (!chosen) return why(leaving('voter', x))
    if (cls === 'soft')
      return why(`voter (kept: no replacement yet): ${e?.refusals[0]?.text ?? 'not eligible'}`)
    if (e?.tier === 'fallback' && e.liveness.status === 'up')
      return why(
        `voter (fallback ${x.arch ?? 'board'}): ${fallbackWhy(x)}; the seat moves to one when it appears`,
      )
    return why(sticky(e, x.policy))
  }
  if (current.learners.includes(id)) {
    if (!chosen) return why(leaving('learner', x))
    if (e?.liveness.status === 'down' || e === undefined) return why('learner: down, within grace')
    if (current.learnerCaughtUp?.[id] === true) return why('learner: caught up, promote next')
    return why('learner: catching up')
  }
  const fallback = e?.tier === 'fallback'
  if (chosen && fallback)
    return why(
      `chosen (fallback ${x.arch ?? 'board'}): ${fallbackWhy(x)}; ranked ${ordinal(rank ?? 0)}${isNext ? ', adding next' : ''}`,
    )
  if (chosen) return why(`chosen: ranked ${ordinal(rank ?? 0)}${isNext ? ', adding next' : ''}`)
  if (eligible && fallback && x.preferredCount >= x.targetSize)
    return why(
      `spare (fallback ${x.arch ?? 'board'}): not needed, ${x.preferredCount} ${x.policy.eligibleArchs.join('/')} boards can hold etcd`,
    )
  if (eligible) return why(`spare: ranked ${ordinal(rank ?? 0)}`)
  return why(e?.why ?? 'unknown')
}
