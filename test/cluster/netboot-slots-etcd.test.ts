import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { type NetbootSlotRecord, netbootSlotsKey } from '../../agent/slots/netboot-decide.js'
import { applyBoot, applyChange, parseRecord, type SlotRecordsEtcd } from '../../agent/slots/netboot-store.js'
import type { SlotOrderBody } from '../../agent/slots/order.js'
import { EtcdLab } from '../support/etcd-lab.js'

// Netbooted machines' slots against a real etcd: the per-MAC record moved only by
// compare-and-swap. Two serving nodes (two etcd clients, each its own connection) answer
// the same boot at once: both read the record before either writes (a barrier forces that
// interleaving, so the test does not depend on timing), one swap wins, the other decides
// again on the new record and answers the same release without counting a second try.

const r1 = { id: '1'.repeat(64), version: '1' }
const r2 = { id: '2'.repeat(64), version: '2' }
const ask = (bootId: string | null) => ({ arch: 'amd64' as const, bootId, holds: [r1.id, r2.id] })
const bootId = (n: number) => n.toString(16).padStart(16, '0')

/** Both clients' first reads return only once both have read. */
function racing(a: EtcdClient, b: EtcdClient): [SlotRecordsEtcd, SlotRecordsEtcd] {
  let arrived = 0
  let release = () => {}
  const both = new Promise<void>((r) => {
    release = r
  })
  const wrap = (c: EtcdClient): SlotRecordsEtcd => {
    let first = true
    return {
      get: async (key, opts) => {
        const kv = await c.get(key, opts)
        if (first) {
          first = false
          if (++arrived === 2) release()
          await both
        }
        return kv
      },
      txn: (t) => c.txn(t),
    }
  }
  return [wrap(a), wrap(b)]
}

describe('netboot slots on a real etcd', { timeout: 60_000 }, () => {
  let lab: EtcdLab
  let e1: EtcdClient
  let e2: EtcdClient
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
  const change = (mac: string, o: SlotOrderBody) =>
    applyChange(e1, { mac, arch: 'amd64', order: o, running: r1 }, 5)
  const record = async (mac: string) => parseRecord(await e1.get(netbootSlotsKey(mac))) as NetbootSlotRecord

  before(async () => {
    lab = await EtcdLab.create({ block: 236 })
    const m = await lab.found(1)
    e1 = lab.client([m.clientUrl])
    e2 = lab.client([m.clientUrl])
  })
  after(async () => {
    await lab?.cleanup()
  })

  it('no record: both servers decide nothing and write nothing', async () => {
    const mac = '52:54:00:00:00:01'
    assert.deepEqual(await applyBoot(e1, mac, ask(bootId(1)), 1), { kind: 'none' })
    assert.equal(await e1.get(netbootSlotsKey(mac)), undefined)
  })

  it('two servers answering one boot count one try and offer the same release', async () => {
    for (let i = 0; i < 10; i++) {
      const mac = `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`
      await change(mac, order({ action: 'install', release: r2 }))
      await change(mac, order({ action: 'try', tries: 3 }))
      const [a, b] = racing(e1, e2)
      const [d1, d2] = await Promise.all([
        applyBoot(a, mac, ask(bootId(7)), 10),
        applyBoot(b, mac, ask(bootId(7)), 11),
      ])
      assert.equal(d1.kind === 'offer' && d1.releaseId, r2.id)
      assert.equal(d2.kind === 'offer' && d2.releaseId, r2.id)
      assert.deepEqual([d1, d2].map((d) => d.kind === 'offer' && d.mode).sort(), ['same-boot', 'trying'])
      const rec = await record(mac)
      assert.equal(rec.state.triesLeft, 2, 'one try counted')
      assert.equal(rec.state.boots, 2)
    }
  })

  it('two different boots racing are two tries (neither write is lost)', async () => {
    const mac = '52:54:00:00:02:01'
    await change(mac, order({ action: 'install', release: r2 }))
    await change(mac, order({ action: 'try', tries: 3 }))
    const [a, b] = racing(e1, e2)
    await Promise.all([applyBoot(a, mac, ask(bootId(1)), 10), applyBoot(b, mac, ask(bootId(2)), 11)])
    assert.equal((await record(mac)).state.triesLeft, 1)
  })

  it('tries run out: the machine is offered its last good release; a commit moves it for good', async () => {
    const mac = '52:54:00:00:03:01'
    await change(mac, order({ action: 'install', release: r2 }))
    await change(mac, order({ action: 'try', tries: 2 }))
    const offered: string[] = []
    for (const n of [1, 2, 3]) {
      const d = await applyBoot(n % 2 ? e1 : e2, mac, ask(bootId(n)), 100 + n)
      offered.push(d.kind === 'offer' ? `${d.version}:${d.mode}` : d.kind)
    }
    assert.deepEqual(offered, ['2:trying', '2:trying', '1:fallback'])
    assert.equal((await record(mac)).state.lastFallback?.reason, 'tries-exhausted')

    // Again, committed this time after its first boot.
    await change(mac, order({ action: 'install', release: r2 }))
    await change(mac, order({ action: 'try', tries: 2 }))
    const d = await applyBoot(e2, mac, ask(bootId(4)), 200)
    assert.equal(d.kind === 'offer' && d.version, '2')
    await change(mac, order({ action: 'commit' }))
    for (const n of [5, 6, 7]) {
      const x = await applyBoot(n % 2 ? e1 : e2, mac, ask(bootId(n)), 300 + n)
      assert.equal(x.kind === 'offer' && `${x.version}:${x.mode}`, '2:good')
    }
    assert.equal((await record(mac)).state.good, 'b')
  })

  it('a replayed order is refused with 409 and changes nothing; a malformed record is SLOT_FAILED', async () => {
    const mac = '52:54:00:00:04:01'
    const o = order({ action: 'install', release: r2 })
    await change(mac, o)
    await change(mac, order({ action: 'try', tries: 2 }))
    const before = await e1.get(netbootSlotsKey(mac))
    await assert.rejects(change(mac, o), (err: Error & { status?: number }) => {
      assert.equal(err.status, 409)
      assert.match(err.message, /replay/)
      return true
    })
    assert.equal((await e1.get(netbootSlotsKey(mac)))?.modRevision, before?.modRevision)
    await e1.put(netbootSlotsKey(mac), '{"v":1,')
    await assert.rejects(applyBoot(e1, mac, ask(bootId(1)), 1), /does not parse/)
  })
})
