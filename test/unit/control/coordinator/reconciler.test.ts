import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseInitialCluster } from '../../../../agent/etcd/model/initial-cluster.js'
import {
  PLACEMENT_KEY,
  parsePlacementRecord,
  signPlacement,
} from '../../../../control/coordinator/placement-record.js'
import { PLACEMENT_REFUSED_TOTAL } from '../../../../control/coordinator/reconciler.js'
import { newIdentity } from '../../../support/records.js'
import { coordinatorRig, GRACE, me } from './coordinator-rig.js'
import { node, peerUrlOf } from './fake-etcd.js'

const A = me.id

describe('coordinator reconcile loop', () => {
  it('grows 1 → 3 voters, one membership change per step, assigning each learner', async () => {
    const nodes = [node(A), node('b'), node('c')]
    const t = coordinatorRig(nodes)
    let r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'add-learner')
    assert.deepEqual(t.membershipCalls(), [`add ${peerUrlOf(nodes[1]!.address!)}`])
    assert.equal(t.assigned.length, 1)
    const first = t.assigned[0]!
    assert.equal(first.nodeId, 'b')
    // The initial cluster lists every member, the joiner under its own name.
    assert.equal(parseInitialCluster(first.initialCluster.join(',')).length, 2)
    assert.ok(first.initialCluster.some((e) => e.startsWith(`${A}=`)))
    assert.ok(first.initialCluster.some((e) => e.startsWith('b=')))

    // Not started yet: wait, and do not add another learner meanwhile.
    r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'wait')
    assert.equal(t.membershipCalls().length, 1)

    t.boot(first.memberId, 'b')
    r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'promote')
    assert.deepEqual(t.voters(), [A, 'b'].sort())

    r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'add-learner')
    assert.equal(t.assigned.at(-1)!.nodeId, 'c')
    t.boot(t.assigned.at(-1)!.memberId, 'c')
    await t.coordinator.tick()
    assert.deepEqual(t.voters(), [A, 'b', 'c'].sort())
    r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'none')
    assert.equal(t.membershipCalls().length, 4, 'add, promote, add, promote')
  })

  it('keeps one voter with two eligible boards; riscv64 and a slow SD card never vote', async () => {
    const t = coordinatorRig([
      node(A),
      node('b'),
      node('x', { arch: 'riscv64' }),
      node('sd', { storageClass: 'sd', fsyncP99Ms: 40 }),
    ])
    const r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'none')
    assert.deepEqual(t.membershipCalls(), [])
    const rec = parsePlacementRecord(t.etcd.kv.get(PLACEMENT_KEY)!)
    assert.ok(rec.ok)
    assert.deepEqual(rec.record.target, [A])
    assert.equal(rec.record.fallback, undefined, 'no fallback field when nobody falls back')
    assert.match(rec.record.reasons.sd!.why, /SD card fsync p99 40 ms > 10 ms/)
    assert.match(rec.record.reasons.x!.why, /riscv64 not eligible/)
    assert.equal(rec.record.reasons.sd!.name, 'sd-board')
  })

  it('two ARM boards and an x86 laptop: the laptop is the third voter, and the record says it is a fallback', async () => {
    const t = coordinatorRig([node(A), node('b'), node('x', { arch: 'amd64' })])
    const r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'add-learner')
    assert.equal(r.kind === 'acted' && r.action.kind === 'add-learner' && r.action.id, 'b')
    const rec = parsePlacementRecord(t.etcd.kv.get(PLACEMENT_KEY)!)
    assert.ok(rec.ok)
    assert.deepEqual(new Set(rec.record.target), new Set([A, 'b', 'x']))
    assert.equal(rec.record.target.at(-1), 'x', 'the fallback board ranks after the ARM boards')
    assert.deepEqual(rec.record.fallback, ['x'])
    assert.match(
      rec.record.reasons.x!.why,
      /^chosen \(fallback amd64\): only 2 arm64\/arm boards can hold etcd/,
    )
  })

  it('does nothing at all when it is not the leader', async () => {
    const t = coordinatorRig([node(A), node('b'), node('c')])
    t.lead.leader = false
    const r = await t.coordinator.tick()
    assert.equal(r.kind, 'not-leader')
    assert.deepEqual(t.etcd.calls, [])
    assert.equal(t.etcd.kv.size, 0)
  })

  it('stops before the effect when the lease is lost mid-step', async () => {
    const t = coordinatorRig([node(A), node('b'), node('c')])
    const list = t.etcd.memberList.bind(t.etcd)
    t.etcd.memberList = async () => {
      const l = await list()
      t.lead.leader = false // lost while observing
      return l
    }
    const r = await t.coordinator.tick()
    assert.equal(r.kind, 'not-leader')
    assert.deepEqual(t.etcd.calls, [])
  })

  it('acts on nothing without quorum', async () => {
    const t = coordinatorRig([node(A), node('b'), node('c')])
    t.etcd.quorum = false
    const r = await t.coordinator.tick()
    assert.equal(r.kind, 'no-quorum')
    assert.deepEqual(t.etcd.calls, [])
  })

  it('removes a dead voter only after the grace, then adds the spare', async () => {
    const nodes = [node(A), node('b'), node('c'), node('d', { memoryMB: 4096 })]
    const t = coordinatorRig(nodes)
    for (const id of ['b', 'c']) {
      await t.coordinator.tick()
      t.boot(t.assigned.at(-1)!.memberId, id)
      await t.coordinator.tick()
    }
    assert.deepEqual(t.voters(), [A, 'b', 'c'].sort())
    const now = t.clock.nowMs()
    const c = nodes[2]!
    c.view = { ...c.view, alive: false, state: 'dead', deadSinceMs: now }
    t.clock.advance(GRACE - 1000)
    let r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'wait')
    assert.equal(t.retired.length, 0)

    t.clock.advance(2000)
    r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'remove')
    assert.deepEqual(t.retired, ['c'])
    assert.deepEqual(t.voters(), [A, 'b'].sort())
    r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind === 'add-learner' && r.action.id, 'd')
    t.boot(t.assigned.at(-1)!.memberId, 'd')
    await t.coordinator.tick()
    assert.deepEqual(t.voters(), [A, 'b', 'd'].sort())
  })

  it('sends an unstarted learner its assignment again, not more often than every 5 s', async () => {
    const t = coordinatorRig([node(A), node('b'), node('c')])
    t.setReachable(false)
    await t.coordinator.tick()
    assert.equal(t.assigned.length, 0, 'not reachable: nothing sent')
    t.setReachable(true)
    await t.coordinator.tick()
    assert.equal(t.assigned.length, 1, 'sent as soon as reachable')
    await t.coordinator.tick()
    assert.equal(t.assigned.length, 1)
    t.clock.advance(5001)
    await t.coordinator.tick()
    assert.equal(t.assigned.length, 2)
    assert.equal(t.membershipCalls().filter((c) => c.startsWith('add')).length, 1, 'one learner added, once')
  })

  it('writes the placement fenced by its lease, only when it changes, and replaces a tampered one', async () => {
    const t = coordinatorRig([node(A), node('b')])
    await t.coordinator.tick()
    await t.coordinator.tick()
    assert.deepEqual(
      t.etcd.calls.filter((c) => c.startsWith('txn')),
      ['txn ok'],
    )
    t.etcd.kv.set(PLACEMENT_KEY, '{"v":1,"target":"everyone"}')
    await t.coordinator.tick()
    assert.deepEqual(
      t.etcd.calls.filter((c) => c.startsWith('txn')),
      ['txn ok', 'txn ok'],
    )
    assert.ok(parsePlacementRecord(t.etcd.kv.get(PLACEMENT_KEY)!).ok)
    assert.equal(parsePlacementRecord('{"v":1,"target":"everyone"}').ok, false)

    // Another holder's lease on the election key: our write is refused by etcd itself.
    t.etcd.leases.set(t.lead.key.key, 0x999n)
    t.etcd.kv.delete(PLACEMENT_KEY)
    await t.coordinator.tick()
    assert.equal(t.etcd.kv.get(PLACEMENT_KEY), undefined)
  })

  it('refuses an unsigned, re-signed, forged or non-voter placement record, counts it and rewrites a good one', async () => {
    const t = coordinatorRig([node(A), node('b')])
    await t.coordinator.tick()
    const good = JSON.parse(t.etcd.kv.get(PLACEMENT_KEY)!)
    const stranger = newIdentity()
    const bad: [string, unknown, RegExp][] = [
      ['not JSON', '{"v":2,', /not JSON/],
      ['the old unsigned shape', { ...good.body }, /body: /],
      ['a body changed after signing', { ...good, body: { ...good.body, target: ['b'] } }, /signature/],
      [
        'a forger claiming to be the coordinator with its own key',
        signPlacement({ ...good.body, coordinatorKey: stranger.publicKey.toString('hex') }, stranger),
        /not the key of/,
      ],
      [
        'validly signed by a node that is not an etcd voter',
        signPlacement(
          { ...good.body, coordinator: stranger.id, coordinatorKey: stranger.publicKey.toString('hex') },
          stranger,
        ),
        /not an etcd voter/,
      ],
    ]
    for (const [what, value, why] of bad) {
      const text = typeof value === 'string' ? value : JSON.stringify(value)
      const parsed = parsePlacementRecord(text, new Set([A]))
      assert.equal(parsed.ok, false, what)
      assert.match(!parsed.ok ? parsed.error : '', why, what)
      const before = t.counters.get(PLACEMENT_REFUSED_TOTAL)
      t.etcd.kv.set(PLACEMENT_KEY, text)
      await t.coordinator.tick()
      assert.equal(t.counters.get(PLACEMENT_REFUSED_TOTAL), before + 1, `${what}: counted`)
      const now = parsePlacementRecord(t.etcd.kv.get(PLACEMENT_KEY)!, new Set([A]))
      assert.ok(now.ok, `${what}: a good record is back`)
      assert.deepEqual(now.record.target, good.body.target, `${what}: the decision is the coordinator's`)
    }
  })

  it('keeps the time of death in etcd: a coordinator started after a voter died does not restart the grace', async () => {
    const nodes = [node(A), node('b'), node('c'), node('d', { memoryMB: 4096 })]
    const t = coordinatorRig(nodes)
    for (const id of ['b', 'c']) {
      await t.coordinator.tick()
      t.boot(t.assigned.at(-1)!.memberId, id)
      await t.coordinator.tick()
    }
    const diedAt = t.clock.nowMs()
    nodes[2]!.view = { ...nodes[2]!.view, alive: false, state: 'dead', deadSinceMs: diedAt }
    t.clock.advance(GRACE / 2)
    let r = await t.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'wait')
    const rec = parsePlacementRecord(t.etcd.kv.get(PLACEMENT_KEY)!, new Set([A, 'b', 'c']))
    assert.ok(rec.ok)
    assert.deepEqual(rec.record.deadSince, { c: diedAt })

    // The coordinator's agent restarts: its mesh never heard of c at all.
    t.coordinator.stop()
    const restarted = [nodes[0]!, nodes[1]!, nodes[3]!]
    const next = coordinatorRig(restarted, { clock: t.clock, etcd: t.etcd })
    next.etcd.leases.set(next.lead.key.key, next.lead.key.lease)
    t.clock.advance(GRACE / 2 + 1000)
    r = await next.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'remove', 'the grace counted from the recorded death')
    assert.deepEqual(next.voters(), [A, 'b'].sort())

    // Without a record, a voter unknown to the mesh waits a whole grace from first sight.
    const b = node('b')
    const fresh = coordinatorRig([node(A), b])
    fresh.etcd.found('b', b.address!)
    fresh.etcd.found('x', '10.9.9.9')
    await fresh.coordinator.tick()
    fresh.clock.advance(GRACE / 2)
    r = await fresh.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind, 'wait')
    fresh.clock.advance(GRACE / 2 + 1000)
    r = await fresh.coordinator.tick()
    assert.equal(r.kind === 'acted' && r.action.kind === 'remove' && r.action.id, 'x')
  })
})
