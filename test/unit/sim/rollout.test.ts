import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeRolloutRun, runRolloutSchedule } from '../../sim/rollout-run.js'

// The rollout over the whole simulated cluster: the production RolloutController (and so
// nextRolloutStep, the take-over of a former coordinator's lock, the cluster lock) on
// whichever node coordinates, simulated boot slots with the production try counting, a
// good or a bad release, under crashes (the coordinator's too), restarts, pauses,
// partitions, loss and clock jumps, with drains taking the same lock. Behaviour only;
// npm run sim -- --rollout runs more schedules.

const SEEDS = Number(process.env.HOMECLOUD_SIM_ROLLOUT_SEEDS ?? 30)
// A cap on a busy machine (30 schedules take ~7 s of CPU): fewer run rather than the suite waiting.
const BUDGET_MS = Number(process.env.HOMECLOUD_SIM_ROLLOUT_BUDGET_MS ?? 12_000)

describe('simulated rollout', () => {
  it('a good release reaches every node, one at a time, and a bad one is stopped at the canary', async () => {
    const good = await runRolloutSchedule(3)
    assert.equal(good.bad, false)
    assert.ok(good.ok, describeRolloutRun(good))
    assert.ok(good.reboots >= good.nodes - 1, `rebooted ${good.reboots} of ${good.nodes}`)
    const bad = await runRolloutSchedule(1)
    assert.equal(bad.bad, true)
    assert.ok(bad.ok, describeRolloutRun(bad))
    assert.equal(bad.reboots, 1, 'only the canary tried the bad release')
  })

  it('a seed replays exactly', async () => {
    const a = await runRolloutSchedule(7)
    const b = await runRolloutSchedule(7)
    assert.deepEqual(a, b)
  })

  it(`the invariants hold under ${SEEDS} random fault schedules`, async () => {
    const start = performance.now()
    let ran = 0
    const failed: string[] = []
    for (let seed = 1; seed <= SEEDS; seed++) {
      if (performance.now() - start > BUDGET_MS) break
      const r = await runRolloutSchedule(seed)
      ran++
      if (!r.ok) failed.push(describeRolloutRun(r))
    }
    console.log(`ran ${ran} rollout fault schedules in ${Math.round(performance.now() - start)} ms`)
    assert.deepEqual(failed, [], `replay with: npm run sim -- --rollout --seed <seed>\n${failed.join('\n')}`)
  })

  // Was the open finding (notes/simroll.md, ~30 % of schedules): the rollout's lock did not
  // cover the whole of a node's disruption. Seed 2: a coordinator upgrading itself stopped its
  // rollout controller before its reboot, which let the lock go while its own node was down,
  // and a drain of another node started. Seed 524: a coordinator that lost its seat let the
  // lock go while the canary rebooted. Now the record's node in progress holds the lock for
  // every other taker (control/lock/hold.ts) until it is finished or stays away its lease.
  it('no drain starts while a node is down for a rollout reboot (unless the rollout let it go after its lease)', async () => {
    let refused = 0
    for (const seed of [2, 21, 24, 40, 524]) {
      const r = await runRolloutSchedule(seed)
      assert.ok(r.ok, describeRolloutRun(r))
      refused += r.drainsRefused
    }
    assert.ok(refused > 0, 'the rollout’s hold refused some drain')
  })
})
