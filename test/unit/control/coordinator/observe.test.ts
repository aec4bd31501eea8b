import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { EtcdMember } from '../../../../agent/etcd/model/members.js'
import { isUnstarted, memberNodeId, memberSetFrom } from '../../../../control/coordinator/observe.js'

const member = (id: bigint, name: string, peer: string, isLearner = false): EtcdMember => ({
  id,
  name,
  peerUrls: [peer],
  clientUrls: name ? [peer.replace('2380', '2379')] : [],
  isLearner,
})

describe('coordinator observation', () => {
  const byPeer = new Map([
    ['https://10.0.0.2:2380', 'node-b'],
    ['https://10.0.0.3:2380', 'node-c'],
  ])

  it('names members by node id: started ones by name, unstarted ones by peer URL, strays by hex id', () => {
    assert.equal(memberNodeId(member(1n, 'node-a', 'https://10.0.0.1:2380'), byPeer), 'node-a')
    assert.equal(memberNodeId(member(2n, '', 'https://10.0.0.2:2380', true), byPeer), 'node-b')
    assert.equal(memberNodeId(member(0xffn, '', 'https://10.0.0.9:2380', true), byPeer), 'ff')
  })

  it('splits voters and learners and marks which learners caught up', () => {
    const set = memberSetFrom(
      [
        member(1n, 'node-a', 'https://10.0.0.1:2380'),
        member(2n, 'node-b', 'https://10.0.0.2:2380', true),
        member(3n, '', 'https://10.0.0.3:2380', true),
      ],
      byPeer,
      new Map([['2', true]]),
    )
    assert.deepEqual(set.voters, ['node-a'])
    assert.deepEqual(set.learners, ['node-b', 'node-c'])
    assert.deepEqual(set.learnerCaughtUp, { 'node-b': true, 'node-c': false })
  })

  it('knows a learner that never started', () => {
    assert.equal(isUnstarted(member(3n, '', 'https://10.0.0.3:2380', true)), true)
    assert.equal(isUnstarted(member(2n, 'node-b', 'https://10.0.0.2:2380', true)), false)
  })
})
