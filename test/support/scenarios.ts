import assert from 'node:assert/strict'
import { labPlug, labUnplug } from '../../lab/launcher.js'
import { eventually, startLab, stateOf, view } from './lab.js'

/** The scenario, shared by the loopback and the namespace test. */
export async function unplugAndPlugBack(opts: { netns?: boolean }): Promise<void> {
  const lab = await startLab({ nodes: 5, netns: opts.netns })
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
    assert.ok(
      v.events.some((e) => e.kind === 'dead' && e.name === victim.name),
      'the timeline records the death',
    )
  }

  await labPlug(lab.dir, victim.name)
  await eventually(
    lab.nodes,
    (v) => v.members.filter((m) => m.state === 'alive').length === 5,
    'all 5 alive again',
  )
  const after = (await view(lab.nodes[0]!)).members.find((m) => m.name === victim.name)!
  assert.equal(after.id, before.id, 'restart keeps the node identity')
  assert.ok(
    after.incarnation > before.incarnation,
    `incarnation ${after.incarnation} > ${before.incarnation}`,
  )
  const own = await view(victim)
  assert.equal(own.self, before.id)
}
