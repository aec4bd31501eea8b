import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decideControlPlane, notVoterTicksToStop } from '../../../../agent/kube/control-plane.js'
import { throwIfFailed } from '../../../../agent/kube/node-lifecycle.js'
import { type NodeObserved, nodeSteps } from '../../../../agent/kube/node-runner.js'

// The decisions of the Kubernetes loops (each runs on core/controller): what a tick does.

describe('decideControlPlane', () => {
  const o = { voter: true, hasCa: true, running: false, notVoterTicks: 0, epochChanged: false }

  it('a voter holding the CA key starts the control plane once', () => {
    assert.deepEqual(decideControlPlane(o), { action: 'start', notVoterTicks: 0 })
    assert.deepEqual(decideControlPlane({ ...o, running: true }), { action: 'none', notVoterTicks: 0 })
    assert.deepEqual(decideControlPlane({ ...o, hasCa: false }), { action: 'none', notVoterTicks: 1 })
  })

  it('stops only after consecutive ticks as a non-voter, and a voter tick resets the count', () => {
    let ticks = 0
    const actions: string[] = []
    for (let i = 0; i < notVoterTicksToStop; i++) {
      const d = decideControlPlane({ ...o, voter: false, running: true, notVoterTicks: ticks })
      ticks = d.notVoterTicks
      actions.push(d.action)
    }
    assert.deepEqual(actions, [...Array(notVoterTicksToStop - 1).fill('none'), 'stop'])
    assert.equal(decideControlPlane({ ...o, running: true, notVoterTicks: 1 }).notVoterTicks, 0)
    assert.equal(decideControlPlane({ ...o, voter: false, running: false, notVoterTicks: 5 }).action, 'none')
  })

  it('restarts once etcd was restored as a new epoch, but only as a voter again (its etcd answers)', () => {
    const restored = { ...o, running: true, epochChanged: true }
    assert.deepEqual(decideControlPlane(restored), { action: 'restart', notVoterTicks: 0 })
    // Right after the restore the member has not answered yet: wait (or stop, as any non-voter).
    assert.deepEqual(decideControlPlane({ ...restored, voter: false }), { action: 'none', notVoterTicks: 1 })
    const d = decideControlPlane({ ...restored, voter: false, notVoterTicks: notVoterTicksToStop - 1 })
    assert.equal(d.action, 'stop')
    assert.equal(decideControlPlane({ ...restored, hasCa: false }).action, 'none')
  })
})

describe('nodeSteps', () => {
  const base: NodeObserved = {
    hasCa: true,
    missing: [],
    phase: 'registered',
    recheckDue: false,
    mode: 'kwok',
    runtimeRunning: undefined,
  }

  it('does nothing without the cluster CA', () => {
    assert.deepEqual(nodeSteps({ ...base, hasCa: false, missing: ['kubelet'], phase: 'certificates' }), [])
  })

  it('a new node: certificates, then registration, then kwok', () => {
    assert.deepEqual(nodeSteps({ ...base, missing: ['kubelet', 'kwok'], phase: 'certificates' }), [
      { kind: 'cert', profile: 'kubelet' },
      { kind: 'cert', profile: 'kwok' },
      { kind: 'register' },
      { kind: 'kwok' },
    ])
  })

  it('a registered node re-registers only when its check is due; kubelet mode starts a stopped runtime', () => {
    assert.deepEqual(nodeSteps(base), [{ kind: 'kwok' }])
    assert.deepEqual(nodeSteps({ ...base, recheckDue: true }), [{ kind: 'register' }, { kind: 'kwok' }])
    assert.deepEqual(nodeSteps({ ...base, mode: 'kubelet', runtimeRunning: false }), [{ kind: 'runtime' }])
    assert.deepEqual(nodeSteps({ ...base, mode: 'kubelet', runtimeRunning: true }), [])
  })
})

describe('node lifecycle pass', () => {
  it('a pass with failed actions is a failed sync naming each', () => {
    assert.doesNotThrow(() => throwIfFailed({ failed: [] }))
    assert.throws(
      () =>
        throwIfFailed({
          failed: [{ action: { kind: 'taint', node: 'w1', reason: 'dead' }, error: 'conflict' }],
        }),
      /taint w1: conflict/,
    )
  })
})
