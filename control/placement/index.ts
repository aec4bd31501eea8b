export {
  type Eligibility,
  eligibility,
  type Liveness,
  type Refusal,
  type RefusalCode,
} from './eligibility.js'
export { majority, safeToRemoveVoter, WAIT } from './next-action.js'
export { placeControlPlane } from './place.js'
export { DEFAULT_PLACEMENT_POLICY, PlacementPolicy } from './policy.js'
export { compareRank, rankCandidates, STORAGE_TIER } from './rank.js'
export { classifyMember, type MemberClass } from './target.js'
export type { MemberSet, NodeReason, NodeState, NodeView, Placement, PlacementAction } from './types.js'
