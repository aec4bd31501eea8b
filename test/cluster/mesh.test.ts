import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { dropped, startLab, view } from '../support/lab.js'
import { unplugAndPlugBack } from '../support/scenarios.js'

describe('mesh: five agents on loopback', () => {
  it('converge, mark an unplugged node dead, and accept it back with a higher incarnation', async () => {
    await unplugAndPlugBack({})
  })
})

describe('mesh: two clusters on one machine', () => {
  it('never see each other, even when one bootstraps from the other', async () => {
    const a = await startLab({ nodes: 2 })
    const b = await startLab({
      nodes: 2,
      agentConfig: {
        // Lab B dials lab A's nodes directly, keys and all: they connect, and only
        // the cluster id inside every signed record keeps the two apart.
        bootstrap: a.nodes.map((n) => `${n.key}@${n.address}:49737`),
      },
    })
    assert.notEqual(a.clusterId, b.clusterId)
    // Give any cross-talk time to show up (a behavioural wait, not a timing assertion).
    await new Promise((r) => setTimeout(r, 3000))
    for (const n of a.nodes) {
      const v = await view(n)
      assert.deepEqual(v.members.map((m) => m.name).sort(), a.nodes.map((x) => x.name).sort())
    }
    for (const n of b.nodes) {
      const v = await view(n)
      assert.deepEqual(v.members.map((m) => m.name).sort(), b.nodes.map((x) => x.name).sort())
      assert.equal(v.cluster.id, b.clusterId)
    }
    let otherCluster = 0
    for (const n of [...a.nodes, ...b.nodes]) otherCluster += await dropped(n, 'other-cluster')
    assert.ok(otherCluster > 0, 'the labs did meet on the wire and refused each other')
  })
})
