import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  asideName,
  assignmentEpochRefusal,
  epochOf,
  superseded,
} from '../../../../agent/controlplane/epoch.js'
import type { LocalEtcdState } from '../../../../agent/controlplane/local-state.js'

const member = (epoch?: number, status: LocalEtcdState['status'] = 'member'): LocalEtcdState => ({
  v: 1,
  status,
  memberId: 'a1',
  initialCluster: 'n1=https://10.77.0.1:2380',
  initialClusterState: 'existing',
  token: 'c',
  sinceMs: 0,
  ...(epoch === undefined ? {} : { epoch }),
})

describe('etcd epochs (pure)', () => {
  it('a member of an older epoch is superseded; the same or a newer one is not', () => {
    assert.equal(epochOf(member()), 0)
    assert.equal(superseded(member(), 1), true)
    assert.equal(superseded(member(1), 1), false)
    assert.equal(superseded(member(2), 1), false)
    assert.equal(superseded(member(0, 'assigning'), 1), true)
  })

  it('a node that is no member, or already removed, has nothing to move aside', () => {
    assert.equal(superseded(null, 3), false)
    assert.equal(superseded(member(0, 'removed'), 3), false)
  })

  it('an assignment from an older epoch is refused, saying both epochs', () => {
    assert.equal(assignmentEpochRefusal(1, 1), null)
    assert.equal(assignmentEpochRefusal(2, 1), null)
    assert.match(assignmentEpochRefusal(0, 1) ?? '', /epoch 0.*epoch 1/)
  })

  it('old data is kept beside the data directory, named after the epoch that replaced it', () => {
    assert.equal(asideName('/s/data/etcd', 2, 123), '/s/data/etcd.epoch-2-aside-123')
  })
})
