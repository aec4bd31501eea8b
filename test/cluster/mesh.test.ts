import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { labPlug, labUnplug } from '../../lab/launcher.js'
import { dropped, eventually, startLab, stateOf, view } from '../support/lab.js'

describe('mesh: five agents on loopback', () => {
  it('converge, mark an unplugged node dead, and accept it back with a higher incarnation', async () => {
    const lab = await startLab({ nodes: 5 })
    const names = lab.nodes.map((n) => n.name)
    for (const n of lab.nodes) {
      const v = await view(n)
      assert.deepEqual(v.members.map((m) => m.name).sort(), [...names].sort())
      assert.ok(v.members.every((m) => m.state === 'alive'))
      assert.equal(v.members.filter((m) => m.self).length, 1)
      assert.equal(v.cluster.id, lab.clusterId)
    }
    const victim = lab.nodes[3]!
    const before = (await view(lab.nodes[0]!)).members.find((m) => m.name === victim.name)!
    await labUnplug(lab.dir, victim.name)
    const others = lab.nodes.filter((n) => n !== victim)
    await eventually(others, (v) => stateOf(v, victim.name) === 'dead', `${victim.name} marked dead`)
    for (const n of others) {
      const v = await view(n)
      assert.deepEqual(v.members.filter((m) => m.state === 'alive').length, 4)
      assert.ok(v.events.some((e) => e.kind === 'dead' && e.name === victim.name), 'the timeline records the death')
    }

    await labPlug(lab.dir, victim.name)
    await eventually(lab.nodes, (v) => v.members.filter((m) => m.state === 'alive').length === 5, 'all 5 alive again')
    const after = (await view(lab.nodes[0]!)).members.find((m) => m.name === victim.name)!
    assert.equal(after.id, before.id, 'restart keeps the node identity')
    assert.ok(after.incarnation > before.incarnation, `incarnation ${after.incarnation} > ${before.incarnation}`)
    const own = await view(victim)
    assert.equal(own.self, before.id)
  })
})

describe('mesh: two clusters on one machine', () => {
  it('never see each other, even when one bootstraps from the other', async () => {
    const a = await startLab({ nodes: 2 })
    const b = await startLab({
      nodes: 2,
      agentConfig: {
        mesh: { heartbeatMs: 300, suspectAfterMs: 2000, deadAfterMs: 2000 },
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
