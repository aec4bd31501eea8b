import { COORDINATOR_ELECTION } from '../../control/coordinator/placement-record.js'
import type { Clock } from '../core/clock.js'
import { type ClientTls, EtcdClient } from '../etcd/client.js'
import { idHex } from '../etcd/model/ids.js'
import { parseInitialCluster } from '../etcd/model/initial-cluster.js'
import { clientUrlOf } from '../etcd/spec.js'
import type { LocalEtcdState } from './local-state.js'

// What this node's member asks of the *other* members (its own may be a zombie that the
// cluster removed while it was away): is it still a member, and who coordinates. Each
// question is a short-lived client; an endpoint that does not answer has no say.

/** Client URLs of the members an initial-cluster string names (by their peer URLs' hosts). */
export function clientUrlsOfInitialCluster(initialCluster: string, clientPort: number): string[] {
  return parseInitialCluster(initialCluster).map((e) => {
    const u = new URL(e.peerUrl)
    return clientUrlOf(u.hostname.replace(/^\[|\]$/g, ''), clientPort)
  })
}

/** The other members to ask: from our initial cluster and from the mesh, never ourselves. */
export function otherEndpoints(
  s: LocalEtcdState,
  clientPort: number,
  fromMesh: string[],
  ownUrl: string,
): string[] {
  let fromInitial: string[] = []
  try {
    fromInitial = clientUrlsOfInitialCluster(s.initialCluster, clientPort)
  } catch {
    fromInitial = []
  }
  return [...new Set([...fromInitial, ...fromMesh])].filter((u) => u !== ownUrl)
}

/** One answer per endpoint (undefined: no answer) into a verdict (pure): absent only when every answer says so. */
export function membershipVerdict(
  answers: readonly (boolean | undefined)[],
): 'present' | 'absent' | 'unknown' {
  const said = answers.filter((a): a is boolean => a !== undefined)
  if (said.length === 0) return 'unknown'
  return said.every((present) => !present) ? 'absent' : 'present'
}

/** Retire only after `strikesToRetire` absent verdicts in a row, or one when the coordinator told us (pure). */
export function retireDecision(
  verdict: 'present' | 'absent' | 'unknown',
  strikes: number,
  told: boolean,
  strikesToRetire: number,
): { strikes: number; retire: boolean } {
  if (verdict === 'present') return { strikes: 0, retire: false }
  if (verdict === 'unknown') return { strikes, retire: false }
  const next = strikes + 1
  return { strikes: next, retire: told || next >= strikesToRetire }
}

/** Asks each endpoint whether the member (by id, or by peer URL before it has one) is in its list. */
export async function askMembership(
  endpoints: string[],
  tls: ClientTls,
  clock: Clock,
  member: { memberId: string | null; peerUrl: string },
): Promise<(boolean | undefined)[]> {
  return Promise.all(
    endpoints.map(async (endpoint) => {
      const client = new EtcdClient({ endpoints: [endpoint], tls, requestTimeoutMs: 2000 }, { clock })
      try {
        const list = await client.memberList()
        return list.members.some((m) =>
          member.memberId !== null ? idHex(m.id) === member.memberId : m.peerUrls.includes(member.peerUrl),
        )
      } catch {
        return undefined
      } finally {
        client.close()
      }
    }),
  )
}

/** Who holds the coordinator election per these endpoints; null when nobody answers. */
export async function coordinatorOf(
  endpoints: string[],
  tls: ClientTls,
  clock: Clock,
): Promise<string | null> {
  const client = new EtcdClient({ endpoints, tls, requestTimeoutMs: 2000 }, { clock })
  try {
    return (await client.leader(COORDINATOR_ELECTION))?.value ?? null
  } finally {
    client.close()
  }
}
