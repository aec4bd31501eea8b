import { assert } from '../../agent/core/errors.js'
import { type Eligibility, eligibility } from './eligibility.js'
import { nextAction } from './next-action.js'
import type { PlacementPolicy } from './policy.js'
import { compareIds, rankCandidates } from './rank.js'
import { nodeReason } from './reasons.js'
import { planTarget } from './target.js'
import type { MemberSet, NodeReason, NodeView, Placement } from './types.js'

// Which boards run etcd, and the one membership change to make next. A pure
// function of what the shell observed: every agent computing it from the same view
// gets the same answer, whatever order the view lists nodes in.

export function placeControlPlane(
  nodes: readonly NodeView[],
  current: MemberSet,
  policy: PlacementPolicy,
  nowMs: number,
  quorum: boolean,
): Placement {
  const byId = new Map<string, NodeView>()
  for (const n of nodes) {
    assert(!byId.has(n.id), `placement: node ${n.id} listed twice`)
    byId.set(n.id, n)
  }
  const voterSet = new Set(current.voters)
  assert(voterSet.size === current.voters.length, 'placement: duplicate voter id')
  assert(new Set(current.learners).size === current.learners.length, 'placement: duplicate learner id')
  for (const id of current.learners) assert(!voterSet.has(id), `placement: ${id} is both voter and learner`)

  const elig = new Map<string, Eligibility>()
  for (const n of nodes) elig.set(n.id, eligibility(n, policy, nowMs))

  const plan = planTarget(byId, elig, current.voters, current.learners, policy)
  const next = nextAction({ byId, elig, classes: plan.classes, current, target: plan.target, quorum })

  const rankOf = new Map(rankCandidates(nodes, policy).map((n, i) => [n.id, i + 1]))
  const targetSet = new Set(plan.target)
  const ids = [...new Set([...byId.keys(), ...current.voters, ...current.learners])].sort(compareIds)
  const reasons: Record<string, NodeReason> = {}
  for (const id of ids) {
    reasons[id] = nodeReason({
      id,
      arch: byId.get(id)?.arch,
      e: elig.get(id),
      cls: plan.classes.get(id),
      rank: rankOf.get(id),
      current,
      targetSet,
      targetSize: plan.target.length,
      preferredCount: plan.preferredCount,
      next,
      policy,
    })
  }
  return {
    target: plan.target,
    fallback: plan.fallback,
    preferredCandidates: plan.preferredCount,
    next,
    reasons,
    quorumLost: !quorum,
  }
}
