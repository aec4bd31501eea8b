import { DEFAULT_PLACEMENT_POLICY, type PlacementPolicy } from '../../../../control/placement/policy.js'
import type { MemberSet, NodeView } from '../../../../control/placement/types.js'

// Shared fixtures for placement tests (not a test file itself).

export const NOW = 1_700_000_000_000
export const GRACE = DEFAULT_PLACEMENT_POLICY.failoverGraceMs
export const policy: PlacementPolicy = DEFAULT_PLACEMENT_POLICY

/** A healthy, eligible board: 8 GB, NVMe, 4 cores, fast fsync. */
export function board(id: string, over: Partial<NodeView> = {}): NodeView {
  return {
    id,
    name: id,
    arch: 'arm64',
    alive: true,
    state: 'alive',
    deadSinceMs: null,
    optedOut: false,
    memoryMB: 8192,
    cores: 4,
    storageClass: 'nvme',
    fsyncP99Ms: 2,
    ...over,
  }
}

/** The board, down since `forMs` before NOW. */
export function dead(n: NodeView, forMs: number): NodeView {
  return { ...n, alive: false, state: 'dead', deadSinceMs: NOW - forMs }
}

export function members(voters: string[], learners: string[] = [], caughtUp: string[] = []): MemberSet {
  return { voters, learners, learnerCaughtUp: Object.fromEntries(caughtUp.map((id) => [id, true])) }
}

/** mulberry32: tiny, seedable, good enough to shuffle test clusters. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!
}

export function shuffle<T>(rand: () => number, xs: readonly T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
