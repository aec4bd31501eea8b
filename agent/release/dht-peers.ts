import type { Random } from '../core/random.js'
import type { MemberInfo } from './members.js'

// Pure: which members to dial so the release transport's DHT has a routing table.
// Downloads dial their providers themselves; this only keeps a few others connected,
// a bounded number, so a big cluster is not a full mesh on the release transport too.

/** Members kept connected for the DHT besides those a download talks to. */
export const DHT_PEERS_MIN = 8

/** Live members not yet connected, in a random order, as many as are missing below DHT_PEERS_MIN. */
export function dhtPeersToDial(x: {
  members: readonly MemberInfo[]
  connectedKeys: readonly string[]
  selfKey: string
  random: Random
}): string[] {
  const connected = new Set(x.connectedKeys)
  const candidates = x.members
    .filter((m) => m.alive && m.key !== x.selfKey && !connected.has(m.key))
    .map((m) => ({ m, r: x.random.next() }))
    .sort((a, b) => a.r - b.r)
  return candidates.slice(0, Math.max(0, DHT_PEERS_MIN - connected.size)).map(({ m }) => m.key)
}
