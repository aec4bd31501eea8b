import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type NetbootSlotRecord, netbootSlotsKey } from '../../agent/slots/netboot-decide.js'
import { parseRecord } from '../../agent/slots/netboot-store.js'
import type { LabFile, LabVm } from '../../lab/lab-file.js'
import { labUnplug, nodeUrl } from '../../lab/launcher.js'
import { etcdClientFor } from '../support/controlplane.js'
import { waitFor } from '../support/etcd-lab.js'
import { startLab, view } from '../support/lab.js'
import { addTestVm, consoleText, machines, powerOff, servedBy } from '../support/netboot.js'
import {
  adoptedBlankDisk,
  allowAdoptEmpty,
  blankDisk,
  comesBackAsItself,
  cutPower,
} from '../support/state-disk.js'

// Real dnsmasq (proxyDHCP + TFTP) in every node's namespace, real iPXE, real qemu (TCG) on
// the lab bridge, the real image from images/netboot/build.sh — one lab for the ways a
// machine netboots (they were netboot-bios, netboot-uefi and netboot-slot, a lab each):
// BIOS (SeaBIOS and the NIC's iPXE ROM); UEFI the way real hardware does it (OVMF's own PXE,
// the NIC's iPXE ROM removed with romfile= → proxyDHCP → TFTP ipxe.efi → iPXE → HTTP
// script → kernel); a machine whose MAC has a netboot slot record (agent/slots/netboot-decide.ts)
// in the lab's real etcd: the serving node counts exactly one try for the whole boot (iPXE
// fetches the chain script, then the boot script with the chain's boot id), records the
// boot id and the tried slot, and the machine comes up on the release the record offers.
// The UEFI machine and the slot machine are plugged in at once, as are two BIOS machines;
// the node that served the first is unplugged last. Each VM is powered off once its checks
// are done (none needs an earlier VM running): an idle TCG VM with its agent keeps ~0.45
// core busy, and VMs left running slowed every later boot as much as the lab starts saved.
// With HOMECLOUD_TEST_STATE_DISK_CUT=1 the first machine has a blank local disk, which
// the cluster lets it adopt, and its plug is pulled once it is alive everywhere. Not yet
// in the suite: the second boot hung in /init mounting the state partition, cause not
// found (the same partition mounts, journal replayed, in the same kernel booted alone);
// and the first boot with a disk has not run through this file's other checks yet.
// Needs root.
const root = process.getuid?.() === 0
const SLOT_MAC = '52:54:00:5e:00:01'

describe('netboot from any node: BIOS, UEFI, a slot record', {
  skip: !root && 'needs root for namespaces, taps and dnsmasq',
}, () => {
  it('one lab: BIOS, UEFI and slot machines boot and join; another node serves once one is unplugged', async (t) => {
    const lab = await startLab({ nodes: 3, netns: true, netboot: true, timeoutMs: 600_000 })
    let served: string[] = []
    await t.test(
      'BIOS: a VM netboots, joins, and is alive on every node; only its serving node hands it join material',
      async () => {
        served = await biosVm(lab)
      },
    )
    await t.test(
      'UEFI: fetches iPXE over TFTP, boots the image and joins — with a slot machine at once',
      () => uefiAndSlotVms(lab),
    )
    await t.test('two BIOS machines plugged in at once', async () => {
      // Each is alive on every node when addTestVm returns (a one-shot check afterwards
      // caught a member flapping on a host at load 100).
      const [a, b] = await Promise.all([addTestVm(lab), addTestVm(lab)])
      assert.notEqual(a.mac, b.mac)
      await powerOff(lab, a, b)
    })
    await t.test(
      'the node that served the first VM is unplugged: the next VM is served by another',
      async () => {
        const gone = served[0]
        assert.ok(gone, 'the first VM was served')
        await labUnplug(lab.dir, gone)
        const next = await addTestVm(lab)
        const nextServed = await servedBy(
          lab,
          next.mac,
          lab.nodes.filter((n) => n.name !== gone),
        )
        assert.equal(nextServed.length, 1)
        assert.notEqual(nextServed[0], gone)
      },
    )
  })
})

/**
 * The first VM (BIOS): alive everywhere, served by one node; the routes refuse malformed
 * input. With the state disk: adopted, and after a power cut the same member. Returns who served it.
 */
async function biosVm(lab: LabFile): Promise<string[]> {
  const stateDisk = process.env.HOMECLOUD_TEST_STATE_DISK_CUT === '1'
  if (stateDisk) await allowAdoptEmpty(lab)
  // addTestVm waits until the VM is alive in every node's /api/v1/cluster.
  const vm = await addTestVm(lab, stateDisk ? { disks: [await blankDisk(lab, 'first')] } : {})
  const m = (await view(lab.nodes[0]!)).members.find((x) => x.name === vm.name)
  assert.equal(m?.arch, 'amd64')
  const served = await servedBy(lab, vm.mac)
  assert.equal(served.length, 1, `exactly one node served ${vm.mac}: ${served}`)
  for (const n of lab.nodes.filter((x) => x.name !== served[0])) {
    const r = await fetch(new URL(`/netboot/join/${vm.mac}`, nodeUrl(n)))
    assert.equal(r.status, 404, `${n.name} did not serve ${vm.mac}`)
  }
  // Alive everywhere, so its certificate is on its disk: the plug is pulled now, and it
  // must come back as the same member (support/state-disk.ts).
  const cut = stateDisk ? await cutPower(lab, vm) : null
  const first = stateDisk ? await adoptedBlankDisk(vm) : null
  assert.match(await consoleText(vm), /homecloud: image verified/)
  if (cut && first) await comesBackAsItself(lab, { id: first.id, name: vm.name }, cut)
  // Done with it (by name: after a power cut, its second boot's qemu).
  await powerOff(lab, vm)
  // The same routes over the lab network refuse malformed input.
  const n0 = lab.nodes[0]!
  assert.equal((await fetch(new URL('/netboot/join/52:54:00:zz:00:00', nodeUrl(n0)))).status, 400)
  assert.equal(
    (await fetch(new URL(`/netboot/image/${'a'.repeat(64)}/..%2F..%2Fcluster.json`, nodeUrl(n0)))).status,
    400,
  )
  return served
}

/** A UEFI VM and a VM whose MAC has a slot record, plugged in at once; each checked as it was alone. */
async function uefiAndSlotVms(lab: LabFile): Promise<void> {
  const releaseId = lab.netboot?.releaseId
  assert.ok(releaseId, 'the lab published its netboot image as a release')
  const etcd = await etcdClientFor(lab, lab.nodes)
  try {
    const record = slotRecord(releaseId)
    // Written as soon as the lab's etcd takes writes (the founder's admin login).
    await waitFor(
      'the record written',
      300_000,
      () =>
        etcd.put(netbootSlotsKey(SLOT_MAC), JSON.stringify(record)).then(
          () => true,
          () => false,
        ),
      500,
    )
    // Each returns once its VM is alive in every node's /api/v1/cluster.
    const [uefi, slot] = await Promise.all([
      addTestVm(lab, { uefi: true }),
      addTestVm(lab, { mac: SLOT_MAC }),
    ])
    await checkUefi(lab, uefi)

    assert.equal((await servedBy(lab, SLOT_MAC)).length, 1)
    assert.match(await consoleText(slot), /homecloud: image verified/)
    const after = parseRecord(await etcd.get(netbootSlotsKey(SLOT_MAC)))
    assert.ok(after)
    assert.equal(after.state.boots, 5, 'one boot counted')
    assert.equal(after.state.triesLeft, 2, 'one try counted')
    assert.equal(after.state.booted, 'b')
    assert.match(after.lastBootId ?? '', /^[0-9a-f]{16}$/, "the boot id came back through iPXE's chain URL")
    await powerOff(lab, uefi, slot)
  } finally {
    etcd.close()
  }
}

async function checkUefi(lab: LabFile, vm: LabVm): Promise<void> {
  assert.equal((await view(lab.nodes[0]!)).members.find((x) => x.name === vm.name)?.arch, 'amd64')
  assert.equal((await servedBy(lab, vm.mac)).length, 1)
  // Some node's dnsmasq sent ipxe.efi over TFTP (it may not be the node that served the script).
  const tftp = await Promise.all(
    lab.nodes.map(async (n) => (await machines(n)).find((m) => m.mac === vm.mac)?.stages.tftp),
  )
  assert.ok(
    tftp.some((x) => typeof x === 'number'),
    'a TFTP transfer was logged for the VM',
  )
  assert.match(await consoleText(vm), /homecloud: image verified/)
}

/** A record offering the lab's release in both slots, good a, trying b with three tries, four boots so far. */
function slotRecord(releaseId: string): NetbootSlotRecord {
  const content = { releaseId, version: 'lab', installedAtMs: 1 }
  return {
    v: 1,
    mac: SLOT_MAC,
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
}
