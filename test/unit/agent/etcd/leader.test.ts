import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { findLeaderEndpoint, type LeaderLookup } from '../../../../agent/etcd/leader.js'
import type { EndpointStatus } from '../../../../agent/etcd/model/types.js'

// Promotes go to the leader (etcd 3.6.17 loses the auth token when a follower forwards one).
function lookup(statuses: Record<string, { member: bigint; leader: bigint } | 'down'>): LeaderLookup {
  const urls: Record<string, string> = { '1': 'https://a:2379', '2': 'https://b:2379', '3': 'https://c:2379' }
  return {
    endpoints: Object.keys(statuses),
    async status(endpoint) {
      const s = statuses[endpoint]
      if (!s || s === 'down') throw new Error('unreachable')
      return { endpoint, memberId: s.member, leaderId: s.leader } as EndpointStatus
    },
    async memberList() {
      return {
        clusterId: 1n,
        members: Object.entries(urls).map(([id, url]) => ({
          id: BigInt(id),
          name: `m${id}`,
          peerUrls: [],
          clientUrls: [url],
          isLearner: false,
        })),
      }
    },
  }
}

describe('findLeaderEndpoint', () => {
  it('is the endpoint itself when the member asked leads', async () => {
    assert.equal(
      await findLeaderEndpoint(lookup({ 'https://b:2379': { member: 2n, leader: 2n } })),
      'https://b:2379',
    )
  })
  it("is the leader's client URL when a follower is asked", async () => {
    assert.equal(
      await findLeaderEndpoint(lookup({ 'https://a:2379': { member: 1n, leader: 3n } })),
      'https://c:2379',
    )
  })
  it('skips members that are down or know no leader; undefined when none knows', async () => {
    assert.equal(
      await findLeaderEndpoint(
        lookup({
          'https://a:2379': 'down',
          'https://b:2379': { member: 2n, leader: 0n },
          'https://c:2379': { member: 3n, leader: 1n },
        }),
      ),
      'https://a:2379',
    )
    assert.equal(await findLeaderEndpoint(lookup({ 'https://a:2379': 'down' })), undefined)
  })
})
