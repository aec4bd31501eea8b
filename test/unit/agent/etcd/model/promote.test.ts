import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  classifyPromoteError,
  isRetryablePromoteError,
  learnerCaughtUp,
} from '../../../../../agent/etcd/model/promote.js'

describe('promote errors', () => {
  it('retries while the learner catches up (etcd 3.4 wording)', () => {
    const m = 'etcdserver: can only promote a learner member which is in sync with leader'
    assert.equal(classifyPromoteError(m), 'retry')
    assert.equal(isRetryablePromoteError(m), true)
  })

  it('treats "not a learner" as done: an earlier promote went through', () => {
    assert.equal(classifyPromoteError('etcdserver: can only promote a learner member'), 'already-voter')
    assert.equal(isRetryablePromoteError('etcdserver: can only promote a learner member'), false)
  })

  it('retries through leader changes and timeouts', () => {
    for (const m of [
      'etcdserver: leader changed',
      'etcdserver: no leader',
      'etcdserver: request timed out',
      'etcdserver: request timed out, possibly due to previous leader failure',
      'etcdserver: unhealthy cluster',
    ])
      assert.equal(classifyPromoteError(m), 'retry', m)
  })

  it('does not retry a member that is gone, or anything unknown', () => {
    assert.equal(classifyPromoteError('etcdserver: member not found'), 'not-found')
    assert.equal(classifyPromoteError('etcdserver: permission denied'), 'fatal')
    assert.equal(classifyPromoteError(''), 'fatal')
  })
})

describe('learnerCaughtUp', () => {
  it('compares the learner applied index with the leader raft index', () => {
    assert.equal(learnerCaughtUp({ raftIndex: 5000 }, { raftAppliedIndex: 4500 }), true)
    assert.equal(learnerCaughtUp({ raftIndex: 5000 }, { raftAppliedIndex: 10 }), false)
    assert.equal(learnerCaughtUp({ raftIndex: 5000 }, { raftAppliedIndex: 4990 }, 5), false)
  })
})
