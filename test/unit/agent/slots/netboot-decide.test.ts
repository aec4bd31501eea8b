import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type BootDecision,
  type ChangeRequest,
  decideNetbootBoot,
  decideNetbootChange,
  type NetbootSlotRecord,
  NetbootSlotRecord as RecordSchema,
} from '../../../../agent/slots/netboot-decide.js'
import type { SlotOrderBody } from '../../../../agent/slots/order.js'

// The pure decision behind netbooted machines' slots: which release a serving node offers a
// MAC on a boot request, and what a slot order does to the MAC's record.

const mac = '52:54:00:12:34:56'
const r1 = { id: '1'.repeat(64), version: '1' }
const r2 = { id: '2'.repeat(64), version: '2' }
const holdsAll = { holds: () => true }
let seq = 0
const order = (o: Partial<SlotOrderBody>): SlotOrderBody => ({
  v: 1,
  clusterId: 'c1',
  version: ++seq,
  node: 'n1',
  action: 'install',
  issuedAtMs: 1,
  ...o,
})
const change = (rec: NetbootSlotRecord | null, o: SlotOrderBody, nowMs = 10): NetbootSlotRecord => {
  const req: ChangeRequest = { mac, arch: 'amd64', order: o, running: r1 }
  const d = decideNetbootChange(rec, req, nowMs)
  assert.ok(d.ok, d.ok ? '' : d.error)
  assert.ok(d.next)
  return RecordSchema.parse(d.next)
}
const bootOn = (rec: NetbootSlotRecord, bootId: string | null, nowMs = 20) => {
  const d = decideNetbootBoot(rec, { arch: 'amd64', bootId, ...holdsAll }, nowMs)
  assert.equal(d.kind, 'offer')
  return d as Extract<BootDecision, { kind: 'offer' }>
}
/** A machine on release 1 that was told to install 2 and try it `tries` times. */
const trying = (tries: number) => {
  const installed = change(null, order({ action: 'install', release: r2 }))
  return change(installed, order({ action: 'try', tries }))
}
const id = (n: number) => n.toString(16).padStart(16, '0')

describe('netboot slots: the boot decision', () => {
  it('no record (or another architecture): nothing to decide, the node serves the current release', () => {
    assert.deepEqual(decideNetbootBoot(null, { arch: 'amd64', bootId: id(1), ...holdsAll }, 1), {
      kind: 'none',
    })
    const rec = trying(2)
    assert.deepEqual(decideNetbootBoot(rec, { arch: 'arm64', bootId: id(1), ...holdsAll }, 1), {
      kind: 'none',
    })
  })

  it('a try is counted once per boot: the same boot id again offers the same release and writes nothing', () => {
    const rec = trying(2)
    const first = bootOn(rec, id(1))
    assert.equal(first.releaseId, r2.id)
    assert.equal(first.mode, 'trying')
    assert.equal(first.next?.state.triesLeft, 1)
    assert.equal(first.next?.lastBootId, id(1))
    // A second server (or iPXE asking again) with the same boot id: the counted boot.
    const again = bootOn(first.next as NetbootSlotRecord, id(1))
    assert.equal(again.releaseId, r2.id)
    assert.equal(again.mode, 'same-boot')
    assert.equal(again.next, null)
  })

  it('after its tries the machine is offered the last good release again, and the fallback is recorded', () => {
    let rec = trying(2)
    for (const n of [1, 2]) {
      const d = bootOn(rec, id(n), 100 + n)
      assert.equal(d.releaseId, r2.id)
      rec = d.next as NetbootSlotRecord
    }
    const d = bootOn(rec, id(3), 200)
    assert.equal(d.mode, 'fallback')
    assert.equal(d.releaseId, r1.id)
    assert.equal(d.next?.state.trying, null)
    assert.deepEqual(d.next?.state.lastFallback, {
      slot: 'b',
      releaseId: r2.id,
      version: '2',
      reason: 'tries-exhausted',
      atMs: 200,
    })
    // And stays there.
    assert.equal(bootOn(d.next as NetbootSlotRecord, id(4)).releaseId, r1.id)
  })

  it('a commit after the tried boot makes the new release the good one: every later boot gets it', () => {
    const rec = bootOn(trying(3), id(1)).next as NetbootSlotRecord
    const committed = change(rec, order({ action: 'commit' }))
    assert.equal(committed.state.good, 'b')
    assert.equal(committed.state.trying, null)
    for (const n of [2, 3, 4]) assert.equal(bootOn(committed, id(n)).releaseId, r2.id)
  })

  it('a tried release the answering node does not hold: the good one is offered instead, the try not counted', () => {
    const rec = trying(2)
    const d = decideNetbootBoot(rec, { arch: 'amd64', bootId: id(1), holds: (x) => x !== r2.id }, 1)
    assert.equal(d.kind, 'offer')
    assert.equal(d.kind === 'offer' && d.releaseId, r1.id)
    assert.equal(d.kind === 'offer' && d.mode, 'good-instead')
    assert.equal(d.kind === 'offer' && d.next, null, 'nothing written: the try waits for a node that holds 2')
    assert.equal(bootOn(rec, id(1)).next?.state.triesLeft, 1)
    // Neither held: refused, nothing counted.
    const none = decideNetbootBoot(rec, { arch: 'amd64', bootId: id(1), holds: () => false }, 1)
    assert.equal(none.kind, 'refuse')
    assert.match((none as { reason: string }).reason, /release 2/)
    // The boot a holder already counted stays that boot: refused here rather than switched.
    const counted = bootOn(rec, id(1)).next as NetbootSlotRecord
    const same = decideNetbootBoot(counted, { arch: 'amd64', bootId: id(1), holds: (x) => x !== r2.id }, 1)
    assert.equal(same.kind, 'refuse')
  })

  it('a request without a boot id (GRUB) counts each request', () => {
    const a = bootOn(trying(2), null)
    const b = bootOn(a.next as NetbootSlotRecord, null)
    assert.equal(b.next?.state.triesLeft, 0)
  })
})

describe('netboot slots: orders on the record', () => {
  it('the first order records what the machine runs on slot a, committed', () => {
    const rec = change(null, order({ action: 'install', release: r2 }))
    assert.deepEqual(rec.state.slots.a?.releaseId, r1.id)
    assert.deepEqual(rec.state.slots.b?.releaseId, r2.id)
    assert.equal(rec.state.good, 'a')
    assert.equal(rec.state.booted, 'a')
  })

  it('a replayed order is refused, the same order again is a repeat that writes nothing', () => {
    const o = order({ action: 'install', release: r2 })
    const rec = change(null, o)
    const req = (x: SlotOrderBody): ChangeRequest => ({ mac, arch: 'amd64', order: x, running: r1 })
    assert.deepEqual(decideNetbootChange(rec, req(o), 11), { ok: true, next: null, repeat: true })
    const old = decideNetbootChange(rec, req({ ...o, version: o.version - 1 }), 11)
    assert.equal(old.ok, false)
    assert.equal(!old.ok && old.status, 409)
  })

  it('refusals name why (an install without a release, a running id that is no sha256); a commit after a fallback keeps the good slot', () => {
    const req = (x: SlotOrderBody): ChangeRequest => ({ mac, arch: 'amd64', order: x, running: r1 })
    const noRelease = decideNetbootChange(null, req(order({ action: 'install' })), 1)
    assert.equal(!noRelease.ok && noRelease.status, 400)
    const back = bootOn(bootOn(trying(1), id(1)).next as NetbootSlotRecord, id(2))
    assert.equal(back.mode, 'fallback')
    // The machine is on slot a again: a commit keeps a (nothing was committed by the bad one).
    const c = change(back.next as NetbootSlotRecord, order({ action: 'commit' }))
    assert.equal(c.state.good, 'a')
    const bad = decideNetbootChange(
      null,
      { ...req(order({ action: 'commit' })), running: { id: 'x', version: '1' } },
      1,
    )
    assert.equal(!bad.ok && bad.status, 400)
  })

  it('an asked fallback forgets the tried release before it boots', () => {
    const rec = change(trying(3), order({ action: 'fallback' }))
    assert.equal(rec.state.trying, null)
    assert.equal(bootOn(rec, id(1)).releaseId, r1.id)
  })
})
