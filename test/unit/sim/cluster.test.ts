import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SimCluster, simBoard } from '../../sim/cluster.js'
import { describeClusterRun, runClusterSchedule } from '../../sim/cluster-run.js'

// The whole-cluster simulator: every agent's production membership, coordinator seat,
// reconciler, placement, etcd retire check and cluster lock, against an etcd stand-in on
// a simulated network. Behaviour only; npm run sim -- --cluster runs more schedules.

const SEEDS = Number(process.env.HOMECLOUD_SIM_CLUSTER_SEEDS ?? 200)
const BUDGET_MS = Number(process.env.HOMECLOUD_SIM_BUDGET_MS ?? 45_000)

describe('simulated cluster', () => {
  it('forms: three voters, one coordinator, every view agrees', async () => {
    const c = new SimCluster({ nodes: 5, seed: 11, drains: false })
    c.startAll()
    await c.run(30_000)
    assert.equal(c.etcd.state.voters().length, 3)
    assert.ok(c.etcd.leaderNode() !== null, 'someone coordinates')
    assert.ok(c.viewsConverged())
  })

  it('replaces a voter that died, without anyone wiping data etcd still lists', async () => {
    const c = new SimCluster({ nodes: 5, seed: 12, drains: false })
    c.startAll()
    await c.run(30_000)
    const leader = c.etcd.leaderNode()
    const victim = c.agents.find((a) => a.id !== leader && a.control.memberId !== null)!
    victim.node.crash()
    const healed = await c.runUntil(
      () => c.etcd.state.voters().length === 3 && c.etcd.state.voters().every((m) => m.nodeId !== victim.id),
      60_000,
    )
    assert.notEqual(healed, null, 'a new voter took its place')
    for (const ch of c.etcd.changes) assert.equal(ch.by, ch.leaderNode, `${ch.kind} by the coordinator`)
    assert.deepEqual(
      c.wipes.filter((w) => w.stillListed),
      [],
    )
  })

  it('two Pis and two laptops: a laptop takes the third seat; a Pi that joins later takes it back', async () => {
    const c = new SimCluster({ nodes: 5, seed: 13, drains: false })
    assert.deepEqual(
      c.agents.map((a) => simBoard(a.index)),
      ['pi', 'pi', 'laptop', 'laptop', 'pi'],
    )
    for (const a of c.agents.slice(0, 4)) c.sched.at(c.now, () => a.node.start())
    const board = (nodeId: string) => simBoard(c.byId.get(nodeId)!.index)
    const voterBoards = () =>
      c.etcd.state
        .voters()
        .map((m) => board(m.nodeId))
        .sort()
    const seated = await c.runUntil(() => voterBoards().join() === 'laptop,pi,pi', 60_000)
    assert.notEqual(seated, null, `a laptop holds the third seat (voters: ${voterBoards().join()})`)
    c.agents[4]!.node.start()
    const back = await c.runUntil(
      () => c.etcd.state.members.size === 3 && voterBoards().join() === 'pi,pi,pi',
      60_000,
    )
    assert.notEqual(back, null, `the seat went back to a Pi (voters: ${voterBoards().join()})`)
    // One step at a time and quorum kept: the Pi was added and promoted before the laptop left.
    const steps = c.etcd.changes.filter((ch) => ch.atMs > c.now - (back ?? 0) - 1)
    const kinds = steps.map((ch) => `${ch.kind} ${board(ch.member)}`)
    assert.deepEqual(kinds.slice(-3), ['add pi', 'promote pi', 'remove laptop'])
    for (const ch of c.etcd.changes) assert.ok(!ch.quorumBefore || ch.quorumAfter, `${ch.kind} kept quorum`)
  })

  it('a seed replays exactly', async () => {
    const a = await runClusterSchedule(5)
    const b = await runClusterSchedule(5)
    assert.deepEqual(a, b)
  })

  it(`the invariants hold under ${SEEDS} random fault schedules`, async () => {
    const start = performance.now()
    let ran = 0
    const failed: string[] = []
    for (let seed = 1; seed <= SEEDS; seed++) {
      if (performance.now() - start > BUDGET_MS) break
      const r = await runClusterSchedule(seed)
      ran++
      if (!r.ok) failed.push(describeClusterRun(r))
    }
    console.log(`ran ${ran} whole-cluster fault schedules in ${Math.round(performance.now() - start)} ms`)
    assert.deepEqual(failed, [], `replay with: npm run sim -- --cluster --seed <seed>\n${failed.join('\n')}`)
  })
})
