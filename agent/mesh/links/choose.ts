// Which peers a node holds long-lived connections to. A full mesh costs every node a
// connection (Noise session, keep-alives, a copy of all traffic) per member; past a few
// dozen that is what sank 50 agents on two cores. Instead each node picks a few ring
// neighbours by id — so the overlay is connected whenever views agree, whatever the
// random picks — and a few pseudo-random others, which make its diameter logarithmic.
// Random picks use rendezvous hashing of (self, peer): stable as members come and go (a
// newcomer displaces a pick only if it outranks it), different on every node, and the
// same after a restart. Pure: ids in, ids out.

export interface LinkLimits {
  /** Links to members a node holds at most, its own picks and others' together. */
  connectionsMax: number
  /** Up to this many peers everyone links to everyone (room is left for newcomers). */
  fullMeshPeersMax: number
  /** Connections from nodes not yet members (joiners) held on top of connectionsMax. */
  strangersMax: number
  /** Ring neighbours on each side (by node id). */
  ringPerSide: number
  /** Rendezvous-hashed picks besides the ring. */
  randomPicks: number
}

export const DEFAULT_LINK_LIMITS: LinkLimits = {
  connectionsMax: 16,
  fullMeshPeersMax: 12,
  strangersMax: 4,
  ringPerSide: 2,
  randomPicks: 4,
}

/** A fast, well-mixed 32-bit hash of a string (FNV-1a, then a murmur3 finaliser). */
export function hash32(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The peers `selfId` wants links to, most important first: everyone while the cluster
 * is small (`fullMeshPeersMax`); else ring neighbours, then rendezvous picks. `avoid`
 * (peers that said they are full) is skipped for the random picks only: a ring neighbour
 * wants us back, so it never refuses. Linear in the number of peers (it runs on every
 * membership change, on every node).
 */
export function chooseLinks(
  selfId: string,
  peers: readonly string[],
  limits: LinkLimits,
  avoid: ReadonlySet<string> = new Set(),
  score: (peer: string) => number = (peer) => hash32(`${selfId}|${peer}`),
): string[] {
  return choose(selfId, peers, limits, avoid, score).all
}

/** A choice with its parts, so a chooser can tell whether a newcomer would change it. */
export interface Choice {
  all: string[]
  full: boolean
  after: string[]
  before: string[]
  picks: string[]
}

export function choose(
  selfId: string,
  peers: readonly string[],
  limits: LinkLimits,
  avoid: ReadonlySet<string>,
  score: (peer: string) => number,
): Choice {
  const others = [...new Set(peers)].filter((p) => p !== selfId)
  if (others.length <= limits.fullMeshPeersMax)
    return { all: others.sort(), full: true, after: [], before: [], picks: [] }
  const after = smallest(others, limits.ringPerSide, (a, b) => ringOrder(selfId, a, b))
  const before = smallest(others, limits.ringPerSide, (a, b) => ringOrder(selfId, b, a))
  const ring: string[] = []
  for (let i = 0; i < limits.ringPerSide; i++) ring.push(after[i]!, before[i]!)
  const chosen = new Set(ring)
  const room = Math.max(0, Math.min(limits.randomPicks, limits.connectionsMax - chosen.size))
  const picks = smallest(
    others.filter((p) => !chosen.has(p) && !avoid.has(p)),
    room,
    (a, b) => score(a) - score(b) || (a < b ? -1 : 1),
  )
  return { all: [...chosen, ...picks], full: false, after, before, picks }
}

/** The `perSide` nearest ids after and before `selfId` on the ring of ids (wrapping). */
export function ringNeighbours(selfId: string, others: readonly string[], perSide: number): string[] {
  if (others.length <= 2 * perSide) return [...others].sort()
  // Distance along the ring, each way; ids are compared as strings of equal length.
  const after = smallest(others, perSide, (a, b) => ringOrder(selfId, a, b))
  const before = smallest(others, perSide, (a, b) => ringOrder(selfId, b, a))
  const out: string[] = []
  for (let i = 0; i < perSide; i++) out.push(after[i]!, before[i]!)
  return [...new Set(out)]
}

/** Order of a and b walking up the ring from `self` (ids above self first, then wrapped). */
export function ringOrder(self: string, a: string, b: string): number {
  const wa = a > self ? 0 : 1
  const wb = b > self ? 0 : 1
  if (wa !== wb) return wa - wb
  return a < b ? -1 : a > b ? 1 : 0
}

/** The `k` smallest items under `cmp`, in order, in one pass (k is small). */
function smallest<T>(items: readonly T[], k: number, cmp: (a: T, b: T) => number): T[] {
  const best: T[] = []
  if (k <= 0) return best
  for (const x of items) {
    if (best.length === k && cmp(x, best[k - 1]!) >= 0) continue
    let i = best.length < k ? best.length : k - 1
    if (best.length < k) best.push(x)
    while (i > 0 && cmp(x, best[i - 1]!) < 0) {
      best[i] = best[i - 1]!
      i--
    }
    best[i] = x
  }
  return best
}
