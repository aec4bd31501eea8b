import type { EtcdMember } from '../../agent/etcd/model/members.js'
import type { EndpointStatus } from '../../agent/etcd/model/types.js'
import { majority, safeToRemoveVoter } from '../placement/next-action.js'

// The last look before a voter is removed. Placement decides from the mesh view, which
// lags behind the network by seconds: a voter it holds up may have just become
// unreachable, and the dead one it removes may have just come back. etcd knows better
// who is in its quorum now, so right before the removal each remaining voter is asked
// for its status; the removal goes ahead only if enough of them answer, and answer as
// part of a quorum (they know a leader), to keep one after it.

/** Why removing voter `id` now would lose quorum by etcd's own account, or null if it would not. */
export async function removalLosesQuorum(
  members: readonly EtcdMember[],
  id: bigint,
  status: (endpoint: string) => Promise<EndpointStatus>,
): Promise<string | null> {
  const voters = members.filter((m) => !m.isLearner)
  if (!voters.some((m) => m.id === id)) return null
  const remaining = voters.filter((m) => m.id !== id)
  const answers = await Promise.all(
    remaining.map(async (m) => {
      const url = m.clientUrls[0]
      const s = url ? await status(url).catch(() => undefined) : undefined
      return s !== undefined && s.leaderId !== 0n ? m.id : null
    }),
  )
  const inQuorum = new Set(answers.filter((x): x is bigint => x !== null).map(String))
  const ids = voters.map((m) => String(m.id))
  if (safeToRemoveVoter(ids, String(id), (v) => inQuorum.has(v))) return null
  return `only ${inQuorum.size} of the ${remaining.length} other voters answer as part of a quorum (${majority(remaining.length)} needed)`
}
