import type { CallOptions } from './gateway.js'
import type { MemberList } from './model/members.js'
import type { EndpointStatus } from './model/types.js'

// Where etcd's leader answers. Member promotion must be sent there: with authentication on,
// etcd 3.6.17 forwards a promote that reaches a follower to the leader without the caller's
// auth token, the leader refuses it ("auth: user name is empty", etcd issue 20757) and the
// follower's request only times out — a coordinator whose local member is a follower could
// never promote a learner again.

/** How long one member may take to say who leads before the next is asked. */
export const LEADER_LOOKUP_TIMEOUT_MS = 2000

export interface LeaderLookup {
  readonly endpoints: readonly string[]
  status(endpoint: string, timeoutMs?: number): Promise<EndpointStatus>
  memberList(opts?: CallOptions): Promise<MemberList>
}

/** The leader's client URL as the first member that knows a leader tells it; undefined if none does. */
export async function findLeaderEndpoint(client: LeaderLookup): Promise<string | undefined> {
  for (const endpoint of client.endpoints) {
    const s = await client.status(endpoint, LEADER_LOOKUP_TIMEOUT_MS).catch(() => undefined)
    if (!s || s.leaderId === 0n) continue
    if (s.memberId === s.leaderId) return endpoint
    const list = await client
      .memberList({ endpoint, timeoutMs: LEADER_LOOKUP_TIMEOUT_MS })
      .catch(() => undefined)
    const url = list?.members.find((m) => m.id === s.leaderId)?.clientUrls[0]
    if (url) return url
  }
  return undefined
}
