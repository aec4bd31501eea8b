import type { StorageClass } from '../../agent/facts/schema.js'
import { archTier, refusals } from './eligibility.js'
import type { PlacementPolicy } from './policy.js'
import type { NodeView } from './types.js'

// A total order over nodes, so every agent that computes placement from the same
// view picks the same boards. Ids compare by code unit, never localeCompare: the
// locale differs between machines.

/** Lower is better. hdd and unknown share the last tier. */
export const STORAGE_TIER: Record<StorageClass, number> = {
  nvme: 0,
  ssd: 1,
  emmc: 2,
  sd: 3,
  hdd: 4,
  unknown: 4,
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Memory (desc), storage tier, cores (desc), then id (asc). */
export function compareRank(a: NodeView, b: NodeView): number {
  return (
    b.memoryMB - a.memoryMB ||
    STORAGE_TIER[a.storageClass] - STORAGE_TIER[b.storageClass] ||
    b.cores - a.cores ||
    compareIds(a.id, b.id)
  )
}

/** Eligible nodes, best first: the preferred architectures, then the fallback ones. Time plays no part. */
export function rankCandidates(nodes: readonly NodeView[], policy: PlacementPolicy): NodeView[] {
  const fallback = (n: NodeView) => Number(archTier(n.arch, policy) === 'fallback')
  return nodes
    .filter((n) => refusals(n, policy).length === 0)
    .sort((a, b) => fallback(a) - fallback(b) || compareRank(a, b))
}

/** Sorts ids by rank; ids the view does not know (a member the mesh forgot) go last, by id. */
export function sortIdsByRank(ids: Iterable<string>, byId: ReadonlyMap<string, NodeView>): string[] {
  return [...ids].sort((a, b) => {
    const na = byId.get(a)
    const nb = byId.get(b)
    if (na && nb) return compareRank(na, nb)
    if (na) return -1
    if (nb) return 1
    return compareIds(a, b)
  })
}
