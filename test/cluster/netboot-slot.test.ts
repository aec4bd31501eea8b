import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type NetbootSlotRecord, netbootSlotsKey } from '../../agent/slots/netboot-decide.js'
import { parseRecord } from '../../agent/slots/netboot-store.js'
import { etcdClientFor } from '../support/controlplane.js'
import { waitFor } from '../support/etcd-lab.js'
import { startLab } from '../support/lab.js'
import { addTestVm, consoleText, servedBy } from '../support/netboot.js'

// A netbooted machine with a netboot slot record (agent/slots/netboot-decide.ts): real
// dnsmasq, real iPXE and qemu (TCG) on the lab bridge, the record in the lab's real etcd.
// The serving node reads the MAC's record, counts exactly one try for the whole boot
// (iPXE fetches the chain script, then the boot script with the chain's boot id), records
// the boot id and the tried slot, and the machine comes up on the release the record
// offers. Moving a machine between two different releases needs a second image in the
// lab (not here yet). Needs root.
const root = process.getuid?.() === 0

describe('netboot slots: a VM boots the slot its record offers', {
  skip: !root && 'needs root for namespaces, taps and dnsmasq',
}, () => {
  it('one boot, one try counted, the tried slot booted', async () => {
    const lab = await startLab({ nodes: 3, netns: true, netboot: true, timeoutMs: 600_000 })
    const releaseId = lab.netboot?.releaseId
    assert.ok(releaseId, 'the lab published its netboot image as a release')
    const etcd = await etcdClientFor(lab, lab.nodes)
    const mac = '52:54:00:5e:00:01'
    const content = { releaseId, version: 'lab', installedAtMs: 1 }
    const record: NetbootSlotRecord = {
      v: 1,
      mac,
      arch: 'amd64',
      state: {
        v: 1,
        slots: { a: content, b: content },
        good: 'a',
        trying: 'b',
        triesLeft: 3,
        booted: 'a',
        boots: 4,
        lastFallback: null,
      },
      lastBootId: null,
      lastOrderSeq: 0,
      updatedAtMs: 1,
    }
    // Written as soon as the lab's etcd takes writes (the founder's admin login).
    await waitFor(
      'the record written',
      300_000,
      () =>
        etcd.put(netbootSlotsKey(mac), JSON.stringify(record)).then(
          () => true,
          () => false,
        ),
      500,
    )

    const vm = await addTestVm(lab, { mac })
    assert.equal((await servedBy(lab, mac)).length, 1)
    assert.match(await consoleText(vm), /homecloud: image verified/)
    const after = parseRecord(await etcd.get(netbootSlotsKey(mac)))
    assert.ok(after)
    assert.equal(after.state.boots, 5, 'one boot counted')
    assert.equal(after.state.triesLeft, 2, 'one try counted')
    assert.equal(after.state.booted, 'b')
    assert.match(after.lastBootId ?? '', /^[0-9a-f]{16}$/, "the boot id came back through iPXE's chain URL")
    etcd.close()
  })
})
