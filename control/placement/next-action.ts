import type { Eligibility } from './eligibility.js'
import { compareIds, sortIdsByRank } from './rank.js'
import type { MemberClass } from './target.js'
import type { MemberSet, NodeView, PlacementAction } from './types.js'

// The single next etcd membership change towards the target. One at a time, in an
// order that never endangers quorum:
//  0. no quorum (etcd's word, or the mesh sees fewer than a majority of voters up):
//     wait. Nothing happens at all; recovery is the user's call.
//  1. learners: drop a learner that is not wanted (dead beyond grace, no longer
//     eligible, not needed); else promote it when caught up, else wait for it.
//     etcd allows one learner at a time, so nothing else moves meanwhile.
//  2. remove a voter dead beyond the grace (or revoked) BEFORE adding its
//     replacement: from 3 with one dead, removing leaves 2 of 2 up; adding a 4th
//     first would need 3 of 4 with one dead. Never the last voter.
//  3. add the best-ranked missing target board as a learner.
//  4. only once every target board is a voter, remove voters outside the target
//     (soft voters being replaced, surplus above votersTarget): make-before-break,
//     because those are up and still voting.
//  5. otherwise wait on a voter that is down within grace, or do nothing.

export const WAIT = {
  noQuorum: 'no quorum: nothing destructive happens',
  noMeshMajority: 'no quorum: the mesh sees fewer than a majority of voters up',
  noVoters: 'no voters: the founding node creates the cluster',
  learnerCatchingUp: 'learner catching up',
  learnerDown: 'learner down within grace',
  learnerSuspect: 'learner suspect',
  deadVoterWithinGrace: 'dead voter within grace',
  lastVoter: 'the last voter cannot be removed',
  removalLosesQuorum: 'removal would lose quorum',
} as const

export interface ActionInput {
  byId: ReadonlyMap<string, NodeView>
  elig: ReadonlyMap<string, Eligibility>
  classes: ReadonlyMap<string, MemberClass>
  current: MemberSet
  target: readonly string[]
  quorum: boolean
}

export function majority(n: number): number {
  return Math.floor(n / 2) + 1
}

/** Up per the mesh: members unknown to the mesh count as down. */
function isUp(elig: ReadonlyMap<string, Eligibility>, id: string): boolean {
  const status = elig.get(id)?.liveness.status
  return status === 'up' || status === 'suspect'
}

/** Could `id` leave the voters with the remaining up voters still a majority? */
export function safeToRemoveVoter(
  voters: readonly string[],
  id: string,
  up: (id: string) => boolean,
): boolean {
  const remaining = voters.filter((v) => v !== id)
  return remaining.length >= 1 && remaining.filter(up).length >= majority(remaining.length)
}

function refusalText(e: Eligibility | undefined): string {
  return e?.refusals[0]?.text ?? 'unknown to the mesh'
}

export function leaveReason(
  cls: MemberClass | undefined,
  e: Eligibility | undefined,
  role: 'voter' | 'learner',
): string {
  if (cls === 'hard') {
    if (e?.liveness.beyondGrace) return `${role} dead beyond grace`
    return `${role} revoked`
  }
  if (cls === 'soft') return `${role} not eligible: ${refusalText(e)}`
  if (e?.tier === 'fallback') return `${role} not needed: its fallback seat went back to a preferred board`
  return `${role} not needed`
}

export function nextAction(input: ActionInput): PlacementAction {
  const { elig, classes, current, target, quorum } = input
  const up = (id: string) => isUp(elig, id)
  const voters = [...current.voters].sort(compareIds)
  const learners = sortIdsByRank(current.learners, input.byId)
  const targetSet = new Set(target)

  if (!quorum) return { kind: 'wait', reason: WAIT.noQuorum }
  if (voters.length === 0) return { kind: 'wait', reason: WAIT.noVoters }
  if (voters.filter(up).length < majority(voters.length)) return { kind: 'wait', reason: WAIT.noMeshMajority }

  // 1. learners
  const unwanted = learners.find((id) => !targetSet.has(id))
  if (unwanted !== undefined) {
    return {
      kind: 'remove',
      id: unwanted,
      reason: leaveReason(classes.get(unwanted), elig.get(unwanted), 'learner'),
    }
  }
  const learner = learners[0]
  if (learner !== undefined) {
    const status = elig.get(learner)?.liveness.status
    if (status !== 'up' && status !== 'suspect')
      return { kind: 'wait', reason: WAIT.learnerDown, id: learner }
    // A suspect board is likely about to vanish: do not hand it a vote yet.
    if (status === 'suspect') return { kind: 'wait', reason: WAIT.learnerSuspect, id: learner }
    if (current.learnerCaughtUp?.[learner] === true) return { kind: 'promote', id: learner }
    return { kind: 'wait', reason: WAIT.learnerCatchingUp, id: learner }
  }

  // 2. hard voters: the longest-dead first, then revoked ones that are still up.
  const downFor = (id: string) => elig.get(id)?.liveness.downForMs ?? -1
  const hard = voters
    .filter((id) => classes.get(id) === 'hard')
    .sort((a, b) => downFor(b) - downFor(a) || compareIds(a, b))
  for (const id of hard) {
    // A revoked voter that is still up may be unsafe to drop now; then it leaves
    // make-before-break in step 4, after its replacement is in.
    if (safeToRemoveVoter(voters, id, up)) {
      return { kind: 'remove', id, reason: leaveReason('hard', elig.get(id), 'voter') }
    }
  }

  // 3. grow / replace
  const voterSet = new Set(voters)
  const missing = target.find((id) => !voterSet.has(id))
  if (missing !== undefined) return { kind: 'add-learner', id: missing }

  // 4. retire voters outside the target: down ones first, then hard, soft, then lowest rank.
  const order: Record<MemberClass, number> = { hard: 0, soft: 1, transient: 2, healthy: 3 }
  const rankOrder = sortIdsByRank(voters, input.byId)
  const leaving = voters
    .filter((id) => !targetSet.has(id))
    .sort(
      (a, b) =>
        Number(up(a)) - Number(up(b)) ||
        order[classes.get(a) ?? 'transient'] - order[classes.get(b) ?? 'transient'] ||
        rankOrder.indexOf(b) - rankOrder.indexOf(a),
    )
  const first = leaving[0]
  if (first !== undefined) {
    if (voters.length === 1) return { kind: 'wait', reason: WAIT.lastVoter, id: first }
    for (const id of leaving) {
      if (safeToRemoveVoter(voters, id, up)) {
        return { kind: 'remove', id, reason: leaveReason(classes.get(id), elig.get(id), 'voter') }
      }
    }
    return { kind: 'wait', reason: WAIT.removalLosesQuorum, id: first }
  }

  // 5. steady state
  const flapping = voters
    .filter((id) => !up(id))
    .sort((a, b) => downFor(b) - downFor(a) || compareIds(a, b))[0]
  if (flapping !== undefined) return { kind: 'wait', reason: WAIT.deadVoterWithinGrace, id: flapping }
  return { kind: 'none' }
}
