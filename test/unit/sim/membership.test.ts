import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeRun, runMembershipSchedule } from '../../sim/membership-run.js'
import { runSlowNode } from '../../sim/slow-node.js'
import { SwimCluster } from '../../sim/swim-cluster.js'

// The seeded whole-cluster simulator, membership part: the production SWIM machine and
// link book (agent/mesh/liveness.ts) on an in-memory network. Timing goals are measured
// in test/bench/mesh.bench.ts; here only behaviour is asserted.

/** Schedules run here; HOMECLOUD_SIM_SEEDS runs more, `npm run sim` as many as you like. */
const SEEDS = Number(process.env.HOMECLOUD_SIM_SEEDS ?? 1000)
/** Stop early rather than run past this on a slow or busy machine (the count ran is printed). */
const BUDGET_MS = Number(process.env.HOMECLOUD_SIM_BUDGET_MS ?? 45_000)

describe('simulated membership', () => {
  it('20 nodes converge, and a crashed one is dead in every view with no false death', () => {
    const c = new SwimCluster({ nodes: 20, seed: 7, startSpreadMs: 2000 })
    c.startAll()
    c.run(2000)
    assert.notEqual(
      c.runUntil(() => c.converged(), 30_000),
      null,
      'formed',
    )
    c.resetDeaths()
    const victim = c.nodes[13]!
    victim.crash()
    assert.notEqual(
      c.runUntil(() => c.deadEverywhere(victim.id), 30_000),
      null,
      'the crashed node is dead everywhere',
    )
    assert.deepEqual(c.falseDeaths, [])
    for (const n of c.up()) assert.ok(c.net.degree(n.id) <= 16 + 4, 'bounded links')
  })

  // Lifeguard's local health (agent/mesh/swim/awareness.ts). Before it, in these very runs,
  // the overloaded node suspected a healthy member and was then itself declared dead by all
  // 19 (answering its accusation's refutation and the confirmations was more load), and the
  // hiccuping one accused a healthy member. Now its lag (how late its own timer fires)
  // stretches its timeouts, and it accuses nobody while it lasts.
  it('a node whose event loop falls behind accuses nobody and is not declared dead', () => {
    for (const [seed, slow] of [
      [6, { kind: 'overload', costMs: 60 }],
      [10, { kind: 'hiccups', ms: 900, everyMs: 2000 }],
    ] as const) {
      const r = runSlowNode(seed, slow)
      assert.deepEqual(r.accusations, [], `seed ${seed} ${slow.kind}: accusations`)
      assert.equal(r.declaredDeadBy, 0, `seed ${seed} ${slow.kind}: declared dead by others`)
      assert.ok(r.healthMax > 0, `seed ${seed} ${slow.kind}: its lag raised its health score`)
    }
  })

  it('a seed replays exactly', () => {
    const a = runMembershipSchedule(123)
    const b = runMembershipSchedule(123)
    assert.deepEqual(a, b)
  })

  it(`views converge after every one of ${SEEDS} random fault schedules`, () => {
    const start = performance.now()
    let ran = 0
    const failed: string[] = []
    for (let seed = 1; seed <= SEEDS; seed++) {
      if (performance.now() - start > BUDGET_MS) break
      const r = runMembershipSchedule(seed)
      ran++
      if (!r.ok) failed.push(describeRun(r))
    }
    console.log(`ran ${ran} fault schedules in ${Math.round(performance.now() - start)} ms`)
    assert.deepEqual(failed, [], `replay with: npm run sim -- --seed <seed>\n${failed.join('\n')}`)
  })
})
