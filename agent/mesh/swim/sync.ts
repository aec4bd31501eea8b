import type { MemberTable } from './members.js'
import type { DigestEntry, MemberState, RecordMeta, SwimMember, Update } from './types.js'

// Anti-entropy by digest: each side says what it holds about every member (record
// incarnation and version, state and the state's incarnation) and sends the other only
// what the other lacks. Gossip spreads news fast but can lose it; this makes every view
// converge once the network heals, and gives a newcomer the whole view in one exchange.

const STATE_RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2 }

/** [id, recordIncarnation, version, state, stateIncarnation] */
export type Digest = DigestEntry

export function digestOf<R>(m: SwimMember<R>): Digest {
  return [m.id, m.recordIncarnation, m.version, m.state, m.incarnation]
}

export function selfDigest(meta: RecordMeta): Digest {
  return [meta.id, meta.incarnation, meta.version, 'alive', meta.incarnation]
}

/** Is our record newer than theirs? */
function recordNewer(mine: Digest, theirs: Digest): boolean {
  return mine[1] > theirs[1] || (mine[1] === theirs[1] && mine[2] > theirs[2])
}

/** Is our state newer than theirs (higher incarnation, or the same one further along)? */
function stateNewer(mine: Digest, theirs: Digest): boolean {
  return mine[4] > theirs[4] || (mine[4] === theirs[4] && STATE_RANK[mine[3]] > STATE_RANK[theirs[3]])
}

/**
 * What the peer whose digest is `theirs` lacks, as `member` updates (record plus the
 * state we hold): members it has not heard of, newer records, newer states. Our own
 * record comes first (it is what a newcomer needs most).
 */
export function missingFor<R>(
  table: MemberTable<R>,
  self: { record: R; meta: RecordMeta },
  theirs: ReadonlyMap<string, Digest>,
): Update<R>[] {
  const out: Update<R>[] = []
  const mineSelf = selfDigest(self.meta)
  const theirSelf = theirs.get(self.meta.id)
  if (!theirSelf || recordNewer(mineSelf, theirSelf))
    out.push({ kind: 'member', record: self.record, state: 'alive', incarnation: self.meta.incarnation })
  for (const m of table.all()) {
    const mine = digestOf(m)
    const t = theirs.get(m.id)
    if (t && !recordNewer(mine, t) && !stateNewer(mine, t)) continue
    // A dead member they never heard of is history, not news: worth sending all the same,
    // so every view lists the same members.
    out.push({ kind: 'member', record: m.record, state: m.state, incarnation: m.incarnation })
  }
  return out
}
