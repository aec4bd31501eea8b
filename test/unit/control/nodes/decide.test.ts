import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decideNodeActions, type NodeObservation } from '../../../../control/nodes/decide.js'
import { observeNode } from '../../../../control/nodes/reconcile.js'

const policy = { nodeGraceMs: 30_000, nodeDeleteAfterMs: 3_600_000 }
const now = 10_000_000

function obs(o: Partial<NodeObservation> & { name: string }): NodeObservation {
  return {
    mesh: 'alive',
    meshDeadSinceMs: null,
    ready: true,
    readySinceMs: now - 1_000_000,
    outOfService: false,
    taintedByHomecloud: false,
    ...o,
  }
}

const decide = (nodes: NodeObservation[], quorum = true) =>
  decideNodeActions({ nowMs: now, quorum, policy, nodes })

describe('decideNodeActions', () => {
  it('leaves healthy nodes alone', () => {
    assert.deepEqual(decide([obs({ name: 'a' }), obs({ name: 'b' })]), [])
  })

  it('taints a node dead by the mesh and NotReady past the grace, not before', () => {
    const dead = (ms: number) =>
      obs({ name: 'w', mesh: 'dead', meshDeadSinceMs: now - ms, ready: false, readySinceMs: now - 1000 })
    assert.deepEqual(decide([dead(29_000)]), [])
    const a = decide([dead(30_000)])
    assert.equal(a.length, 1)
    assert.equal(a[0]!.kind, 'taint')
  })

  it('needs both witnesses: dead in the mesh but Ready in Kubernetes (or the reverse) is left alone', () => {
    assert.deepEqual(
      decide([obs({ name: 'w', mesh: 'dead', meshDeadSinceMs: now - 600_000, ready: true })]),
      [],
    )
    assert.deepEqual(
      decide([obs({ name: 'w', mesh: 'alive', ready: false, readySinceMs: now - 600_000 })]),
      [],
    )
    assert.deepEqual(
      decide([obs({ name: 'w', mesh: 'suspect', ready: false, readySinceMs: now - 600_000 })]),
      [],
    )
    assert.deepEqual(
      decide([obs({ name: 'w', mesh: 'unknown', ready: false, readySinceMs: now - 600_000 })]),
      [],
    )
  })

  it('without the mesh time of death, NotReady since is the time of death', () => {
    const w = obs({
      name: 'w',
      mesh: 'dead',
      meshDeadSinceMs: null,
      ready: false,
      readySinceMs: now - 40_000,
    })
    assert.equal(decide([w])[0]!.kind, 'taint')
    assert.deepEqual(decide([{ ...w, readySinceMs: null }]), [])
  })

  it('a minority (no quorum) does nothing at all', () => {
    const w = obs({ name: 'w', mesh: 'dead', meshDeadSinceMs: now - 600_000, ready: false })
    assert.deepEqual(decide([w], false), [])
  })

  it('is idempotent: a tainted node is not tainted again', () => {
    const w = obs({
      name: 'w',
      mesh: 'dead',
      meshDeadSinceMs: now - 60_000,
      ready: false,
      outOfService: true,
      taintedByHomecloud: true,
    })
    assert.deepEqual(decide([w]), [])
  })

  it('removes its own taint once the node is back and Ready, never someone else’s', () => {
    const back = obs({ name: 'w', outOfService: true, taintedByHomecloud: true })
    assert.equal(decide([back])[0]!.kind, 'untaint')
    assert.deepEqual(decide([{ ...back, taintedByHomecloud: false }]), [])
    assert.deepEqual(decide([{ ...back, ready: false }]), [])
  })

  it('deletes the Node after the long absence', () => {
    const w = obs({
      name: 'w',
      mesh: 'dead',
      meshDeadSinceMs: now - 3_600_000,
      ready: false,
      outOfService: true,
      taintedByHomecloud: true,
    })
    assert.equal(decide([w])[0]!.kind, 'delete')
  })

  it('deletes an untainted Node the mesh has had dead past the delete time, however recently it went NotReady', () => {
    // The cluster test's case: the mesh's time of death counts, not the Ready transition.
    const w = obs({
      name: 'w',
      mesh: 'dead',
      meshDeadSinceMs: now - policy.nodeDeleteAfterMs,
      ready: false,
      readySinceMs: now - 1000,
    })
    assert.deepEqual(
      decide([w]).map((a) => [a.kind, a.node]),
      [['delete', 'w']],
    )
    assert.deepEqual(
      decide([{ ...w, meshDeadSinceMs: now - policy.nodeDeleteAfterMs + 1 }]).map((a) => a.kind),
      ['taint'],
      'a millisecond short of the delete time: tainted, not deleted',
    )
    assert.deepEqual(decide([w], false), [], 'never in a minority')
  })
})

describe('observeNode', () => {
  it('looks the mesh up by node-id label, then by name, and reads Ready and the taint', () => {
    const n = {
      metadata: {
        name: 'w',
        labels: { 'homecloud.dev/node-id': 'abc' },
        annotations: { 'homecloud.dev/out-of-service-by': 'homecloud' },
      },
      spec: {
        taints: [{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }],
      },
      status: { conditions: [{ type: 'Ready', status: 'Unknown', lastTransitionTime: new Date(5000) }] },
    }
    const o = observeNode(n, (k) => (k === 'abc' ? { state: 'dead', deadSinceMs: 42 } : undefined))
    assert.deepEqual(o, {
      name: 'w',
      mesh: 'dead',
      meshDeadSinceMs: 42,
      ready: false,
      readySinceMs: 5000,
      outOfService: true,
      taintedByHomecloud: true,
    })
    assert.equal(
      observeNode({ metadata: { name: 'w' } }, (k) =>
        k === 'w' ? { state: 'alive', deadSinceMs: null } : undefined,
      ).mesh,
      'alive',
    )
  })
})
