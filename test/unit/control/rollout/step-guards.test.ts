import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startRollout } from '../../../../control/rollout/admin.js'
import { nextRolloutStep } from '../../../../control/rollout/step.js'
import {
  type ObservedCluster,
  type RolloutDecision,
  rolloutPolicyDefault,
} from '../../../../control/rollout/types.js'
import { sixNodes, v2, World } from './world.js'

// Two guards the whole-cluster rollout simulator asked for (npm run sim -- --rollout):
// a voter reboots only while etcd can spare it at that moment (seed 29: a voter died after
// the next voter was picked, and the pick-time check alone rebooted it anyway), and the
// lock the rollout keeps always names the node it disrupts (seed 25: a pass that failed
// after recording a node done kept the lock naming that node through the next one), and a
// machine that booted its tried slot before the try was seen still passes its gate (seed 5:
// the coordinator lost power right after its own try order; the good release was marked bad).

const policy = { ...rolloutPolicyDefault, resendMs: 2_000, leaderStableMs: 3_000 }

function start(w: World): void {
  const r = startRollout(w.record, {
    clusterId: 'c1',
    spec: v2.version,
    canary: 1,
    retryBad: false,
    nowMs: w.nowMs,
    published: [{ ...v2, arch: 'amd64', publishedAtMs: 1 }],
    running: {},
  })
  assert.ok(r.ok)
  w.record = r.body
}

function pass(w: World): RolloutDecision {
  const d = nextRolloutStep(w.observe(), w.record, w.policy)
  for (const e of d.effects) w.apply(e)
  w.nowMs += 1_000
  return d
}

function runUntil(w: World, done: () => boolean): void {
  for (let i = 0; i < 500 && !done(); i++) pass(w)
  assert.ok(done(), `not done; waiting: ${w.record?.waiting}`)
}

describe('nextRolloutStep guards', () => {
  it('a voter waits to reboot while another voter is unhealthy, though all were healthy when it was picked', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'pi5-2' && w.record.current.step === 'gate')
    w.votersHealthy = 2
    for (let i = 0; i < 3; i++) {
      const d = pass(w)
      assert.ok(!d.effects.some((e) => e.kind === 'order'), 'no reboot order')
      assert.match(
        d.waiting ?? '',
        /pi5-2: waits to reboot into 2\.0\.0: etcd has no failure to spare: 2 of 3/,
      )
    }
    w.votersHealthy = null
    const d = pass(w)
    assert.ok(d.effects.some((e) => e.kind === 'order' && e.action === 'reboot'))
    runUntil(w, () => w.record?.phase === 'completed')
  })

  it('a worker promoted to voter after it was picked (etcd lists it; its mesh record does not say so yet) waits too', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'x86-4' && w.record.current.step === 'gate')
    // A voter died and placement seated x86-4 in its place; the dead one is still listed.
    const o = w.observe()
    const promoted: ObservedCluster = {
      ...o,
      nodes: o.nodes.map((n) => (n.name === 'x86-4' ? { ...n, etcdHealthy: true } : n)),
      etcd: { ...o.etcd, votersTotal: 4, votersHealthy: 3 },
    }
    const d = nextRolloutStep(promoted, w.record, policy)
    assert.ok(!d.effects.some((e) => e.kind === 'order'), 'no reboot order')
    assert.match(d.waiting ?? '', /x86-4: waits to reboot into 2\.0\.0: etcd has no failure to spare: 3 of 4/)
  })

  it('a worker reboots whatever the voters (it costs etcd nothing)', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'x86-4' && w.record.current.step === 'gate')
    w.votersHealthy = 2
    assert.ok(pass(w).effects.some((e) => e.kind === 'order' && e.action === 'reboot'))
  })

  it('picking the next node while still holding the lock that names the last one: the lock is taken again for the next', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.nodes.id3?.state === 'done' && w.record.current === null)
    // The pass that recorded x86-4 done failed before it let the lock go.
    w.lock = { holder: 'rollout', node: 'x86-4', token: 41 }
    const d = pass(w)
    assert.deepEqual(d.effects[0], { kind: 'take-lock', node: 'pi5-2' })
    assert.equal(w.lock.node, 'pi5-2')
    runUntil(w, () => w.record?.phase === 'completed')
    assert.equal(w.lock.holder, null)
  })

  it('a machine that lost power after taking its try order, and booted the tried slot before the try was seen, passes its gate', () => {
    const w = new World(sixNodes, policy)
    start(w)
    const n = w.node('x86-4')
    runUntil(w, () => w.record?.current?.step === 'try' && n.boot.trying !== null)
    n.up = false
    n.deadSinceMs = w.nowMs
    w.powerOn(n)
    assert.equal(n.boot.booted, n.boot.trying, 'it runs the tried slot')
    runUntil(w, () => w.record?.phase !== 'running' && w.record?.current === null)
    assert.equal(w.record?.phase, 'completed', w.record?.halt?.reason)
    assert.deepEqual(w.record?.bad, [])
  })

  it('a node down at its gate timeout is not a failed release: it is deferred once gone long enough', () => {
    const w = new World(sixNodes, policy)
    start(w)
    const n = w.node('x86-4')
    runUntil(w, () => w.record?.current?.name === 'x86-4' && w.record.current.step === 'gate')
    n.up = false
    // A new coordinator saw it go down only now (its mesh view started afresh), past the gate timeout.
    w.nowMs += policy.gateTimeoutMs
    n.deadSinceMs = w.nowMs - 1_000
    const d = pass(w)
    assert.deepEqual(w.record?.bad, [], d.waiting ?? '')
    assert.equal(w.record?.phase, 'running')
    runUntil(w, () => w.record?.current === null)
    assert.match(w.record?.waiting ?? '', /went away during its gate/)
    assert.deepEqual(w.record?.bad, [])
  })

  it('a node in progress missing from a new coordinator’s mesh view is waited for, never skipped', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'x86-4' && w.record.current.step === 'gate')
    const o = w.observe('id1')
    const d = nextRolloutStep({ ...o, nodes: o.nodes.filter((n) => n.name !== 'x86-4') }, w.record, policy)
    assert.match(d.waiting ?? '', /x86-4: not in this coordinator's mesh view/)
    assert.ok(d.effects.every((e) => e.kind === 'record'))
    for (const e of d.effects) w.apply(e)
    assert.equal(w.record?.current?.name, 'x86-4')
    assert.equal(w.record?.nodes.id3, undefined, 'no outcome recorded')
    runUntil(w, () => w.record?.phase === 'completed')
    assert.ok(Object.values(w.record?.nodes ?? {}).every((x) => x.state === 'done'))
  })

  it('a node in progress that left the cluster (revoked, gone from the mesh) is named skipped, its lock freed, and the rollout goes on', () => {
    const w = new World(sixNodes, policy)
    start(w)
    runUntil(w, () => w.record?.current?.name === 'x86-4' && w.record.current.step === 'gate')
    const n = w.node('x86-4')
    n.up = false
    n.deadSinceMs = w.nowMs
    w.left = { id3: 'revoked' }
    w.hidden.add('id3')
    const d = pass(w)
    assert.equal(w.record?.current, null, d.waiting ?? '')
    assert.equal(w.record?.nodes.id3?.state, 'skipped')
    assert.match(
      w.record?.nodes.id3?.detail ?? '',
      /left the cluster during its gate \(revoked\): not upgraded/,
    )
    assert.ok(d.effects.some((e) => e.kind === 'release-lock'))
    runUntil(w, () => w.record?.phase === 'completed')
    const states = Object.entries(w.record?.nodes ?? {}).map(([id, o]) => `${id}:${o.state}`)
    assert.deepEqual(states.sort(), [
      'id0:done',
      'id1:done',
      'id2:done',
      'id3:skipped',
      'id4:done',
      'id5:done',
    ])
  })

  it('a pending node that left (revoked, still listed dead) is named skipped at the pick, never waited for', () => {
    const w = new World(sixNodes, policy)
    const n = w.node('x86-6')
    n.up = false
    n.deadSinceMs = w.nowMs
    w.left = { id5: 'revoked' }
    start(w)
    runUntil(w, () => w.record?.phase === 'completed')
    assert.equal(w.record?.nodes.id5?.state, 'skipped')
    assert.equal(w.record?.nodes.id5?.detail, 'no longer a member (revoked): not upgraded')
  })

  it('completes only once the coordinator’s mesh view has settled (a new coordinator may not see every node yet)', () => {
    const w = new World(sixNodes, policy)
    start(w)
    w.viewAgeMs = 1_000
    runUntil(w, () => Object.keys(w.record?.nodes ?? {}).length === 6 && w.record?.current === null)
    pass(w)
    assert.equal(w.record?.phase, 'running')
    assert.match(w.record?.waiting ?? '', /completing once this coordinator’s mesh view has settled/)
    w.viewAgeMs = 30_000 // quiet this long: taken as whole
    pass(w)
    assert.equal(w.record?.phase, 'completed')
  })

  it('a gate is timed by the coordinator watching it, not by a time another coordinator’s clock wrote (rollout simulator seed 458)', () => {
    const w = new World(sixNodes, policy)
    start(w)
    const n = w.node('x86-4')
    runUntil(
      w,
      () =>
        w.record?.current?.name === 'x86-4' &&
        w.record.current.step === 'gate' &&
        n.boot.booted === n.boot.trying,
    )
    // Back on the target, its DaemonSet pods not yet: the gate waits.
    n.daemonPods = 0
    // The coordinator that entered the gate had a clock 10 minutes behind; this one took over just now.
    const cur = w.record?.current
    assert.ok(cur && w.record)
    const record = { ...w.record, current: { ...cur, stepSinceMs: w.nowMs - 10 * 60_000 } }
    const watched = nextRolloutStep({ ...w.observe('id1'), stepAgeMs: 1_000 }, record, policy)
    assert.match(watched.waiting ?? '', /x86-4: health gate waits for/)
    assert.ok(!watched.effects.some((e) => e.kind === 'order'), 'no fallback')
    // Its own watch past the timeout: failed as before (and without a watch the record's time decides).
    const late = nextRolloutStep({ ...w.observe('id1'), stepAgeMs: policy.gateTimeoutMs }, record, policy)
    assert.ok(late.effects.some((e) => e.kind === 'order' && e.action === 'fallback'))
    const unwatched = nextRolloutStep(w.observe('id1'), record, policy)
    assert.ok(unwatched.effects.some((e) => e.kind === 'order' && e.action === 'fallback'))
  })
})
