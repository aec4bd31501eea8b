import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ClaimWatch, contradictedClaims } from '../../../../agent/controlplane/role-claims.js'

const etcd = { voters: new Set(['a', 'b']), learners: new Set(['c']), coordinator: 'a', quorum: true }

describe('seat claims checked against etcd', () => {
  it('names every claimed seat etcd does not confirm, and nothing else', () => {
    const out = contradictedClaims(
      [
        { id: 'a', roles: ['etcd-voter', 'coordinator'] },
        { id: 'b', roles: ['etcd-voter', 'coordinator'] },
        { id: 'c', roles: ['etcd-learner'] },
        { id: 'x', roles: ['etcd-voter', 'etcd-learner', 'worker'] },
        { id: 'w', roles: ['worker'] },
      ],
      etcd,
    )
    assert.deepEqual(
      [...out],
      [
        ['b', 'coordinator'],
        ['x', 'etcd-voter,etcd-learner'],
      ],
    )
  })

  it('reports a contradiction once, and only when two reads in a row agree on it', () => {
    const w = new ClaimWatch()
    const claim = new Map([['x', 'etcd-voter']])
    assert.deepEqual(w.update(claim), [], 'first sight: maybe our read of etcd lags')
    assert.deepEqual(w.update(claim), [['x', 'etcd-voter']])
    assert.deepEqual(w.update(claim), [], 'counted once')
    assert.deepEqual(w.update(new Map()), [], 'gone')
    w.update(claim)
    assert.deepEqual(w.update(claim), [['x', 'etcd-voter']], 'a new episode counts again')
    assert.deepEqual(w.update(new Map([['x', 'etcd-voter,coordinator']])), [])
  })
})
