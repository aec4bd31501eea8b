import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  membershipVerdict,
  otherEndpoints,
  retireDecision,
} from '../../../../agent/controlplane/member-queries.js'
import { decideSeat } from '../../../../agent/controlplane/seat.js'
import { pickTargets, type SnapshotTarget } from '../../../../agent/controlplane/snapshot-keeper.js'
import { type EtcdObserved, type ViewInput, viewFromEtcd } from '../../../../agent/controlplane/view.js'
import type { EtcdMember } from '../../../../agent/etcd/model/members.js'
import type { PeerConn } from '../../../../agent/mesh/swarm.js'

// The decisions of the control-plane loops (each runs on core/controller).

const member = (id: bigint, name: string, peer: string, isLearner = false): EtcdMember => ({
  id,
  name,
  peerUrls: [peer],
  clientUrls: [],
  isLearner,
})
const node = (id: string, address: string): ViewInput =>
  ({ body: { id, addresses: [address], roles: [] }, state: 'alive' }) as unknown as ViewInput

describe('viewFromEtcd', () => {
  const observed: EtcdObserved = {
    list: {
      clusterId: 1n,
      members: [
        member(1n, 'n1', 'https://10.0.0.1:2380'),
        member(2n, '', 'https://10.0.0.2:2380'),
        member(3n, '', 'https://10.0.0.3:2380', true),
      ],
    },
    health: { healthy: true },
    status: { leaderId: 2n },
    coordinator: { value: 'n1' },
    placement: undefined,
  }
  const nodes = [node('n2', '10.0.0.2'), node('n3', '10.0.0.3')]
  const peerUrlOf = (a: string) => `https://${a}:2380`

  it('names members by node id (by peer URL before they have a name), with leader and coordinator', () => {
    const v = viewFromEtcd(observed, nodes, peerUrlOf, '/var/lib/homecloud')
    assert.deepEqual(v.controlPlane, {
      voters: ['n1', 'n2'],
      learners: ['n3'],
      leader: 'n2',
      quorum: true,
      source: 'etcd',
    })
    assert.equal(v.coordinator, 'n1')
    assert.deepEqual([...v.membership.voters], ['n1', 'n2'])
    assert.deepEqual([...v.membership.learners], ['n3'])
  })

  it('without quorum: no coordinator, and the recovery command; a bad placement record is reported', () => {
    const v = viewFromEtcd(
      { ...observed, health: { healthy: false }, status: undefined, placement: { value: 'not json' } },
      nodes,
      peerUrlOf,
      '/var/lib/homecloud',
    )
    assert.equal(v.coordinator, null)
    assert.equal(v.controlPlane.leader, null)
    assert.equal(v.controlPlane.recovery, 'homecloud recover --state /var/lib/homecloud')
    assert.match(v.controlPlane.placementError ?? '', /not JSON/)
    assert.equal(v.membership.quorum, false)
  })
})

describe('decideSeat', () => {
  const o = { voter: true, campaignGeneration: null, generation: 3, hasClient: true }
  it('a voter with a client campaigns; without a client it waits', () => {
    assert.deepEqual(decideSeat(o), { kind: 'campaign' })
    assert.deepEqual(decideSeat({ ...o, hasClient: false }), { kind: 'none' })
    assert.deepEqual(decideSeat({ ...o, campaignGeneration: 3 }), { kind: 'none' })
  })
  it('leaves (resigning) when no longer a voter, and starts over (abandoning) when the client changed', () => {
    assert.deepEqual(decideSeat({ ...o, voter: false, campaignGeneration: 3 }), {
      kind: 'drop',
      why: 'no longer an etcd voter',
      resign: true,
    })
    assert.deepEqual(decideSeat({ ...o, voter: false }), { kind: 'none' })
    assert.deepEqual(decideSeat({ ...o, campaignGeneration: 2 }), {
      kind: 'drop',
      why: 'etcd certificates changed',
      resign: false,
    })
  })
})

describe('membership check', () => {
  it('absent only when every member that answers says so', () => {
    assert.equal(membershipVerdict([]), 'unknown')
    assert.equal(membershipVerdict([undefined, undefined]), 'unknown')
    assert.equal(membershipVerdict([false, undefined]), 'absent')
    assert.equal(membershipVerdict([false, true]), 'present')
  })

  it('retires after two absent verdicts in a row, or one when told; present resets, unknown keeps', () => {
    assert.deepEqual(retireDecision('absent', 0, false, 2), { strikes: 1, retire: false })
    assert.deepEqual(retireDecision('unknown', 1, false, 2), { strikes: 1, retire: false })
    assert.deepEqual(retireDecision('absent', 1, false, 2), { strikes: 2, retire: true })
    assert.deepEqual(retireDecision('present', 1, false, 2), { strikes: 0, retire: false })
    assert.deepEqual(retireDecision('absent', 0, true, 2), { strikes: 1, retire: true })
    assert.deepEqual(retireDecision('unknown', 0, true, 2), { strikes: 0, retire: false })
  })

  it('asks the other members from the initial cluster and the mesh, never itself', () => {
    const s = {
      v: 1 as const,
      status: 'member' as const,
      memberId: 'a',
      initialCluster: 'n1=https://10.0.0.1:2380,n2=https://10.0.0.2:2380',
      initialClusterState: 'existing' as const,
      token: 't',
      sinceMs: 0,
    }
    assert.deepEqual(
      otherEndpoints(s, 2379, ['https://10.0.0.3:2379', 'https://10.0.0.2:2379'], 'https://10.0.0.1:2379'),
      ['https://10.0.0.2:2379', 'https://10.0.0.3:2379'],
    )
    assert.deepEqual(otherEndpoints({ ...s, initialCluster: 'garbage' }, 2379, [], 'x'), [])
  })
})

describe('snapshot targets', () => {
  it('the other voters first, then anyone, by id', () => {
    const t = (id: string, voter: boolean): SnapshotTarget => ({ id, voter, conn: {} as PeerConn })
    assert.deepEqual(
      pickTargets([t('c', false), t('b', true), t('a', false), t('d', true)]).map((x) => x.id),
      ['b', 'd'],
    )
    assert.deepEqual(
      pickTargets([t('c', false), t('a', false), t('b', true)]).map((x) => x.id),
      ['b', 'a'],
    )
  })
})
