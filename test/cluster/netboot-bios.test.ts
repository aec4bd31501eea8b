import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { labUnplug, nodeUrl } from '../../lab/launcher.js'
import { startLab, view } from '../support/lab.js'
import { addTestVm, consoleText, servedBy } from '../support/netboot.js'
import {
  adoptedBlankDisk,
  allowAdoptEmpty,
  blankDisk,
  comesBackAsItself,
  cutPower,
} from '../support/state-disk.js'

// Real dnsmasq (proxyDHCP + TFTP) in every node's namespace, real iPXE, real qemu (TCG)
// on the lab bridge, the real image from images/netboot/build.sh. Needs root.
const root = process.getuid?.() === 0

describe('netboot (BIOS) from any node', {
  skip: !root && 'needs root for namespaces, taps and dnsmasq',
}, () => {
  it('a VM netboots, joins, and is alive on every node; only its serving node hands it join material', async () => {
    const lab = await startLab({ nodes: 3, netns: true, netboot: true, timeoutMs: 600_000 })
    // With HOMECLOUD_TEST_STATE_DISK_CUT=1 the first machine has a blank local disk, which
    // the cluster lets it adopt, and its plug is pulled once it is alive everywhere. Not yet
    // in the suite: the second boot hung in /init mounting the state partition, cause not
    // found (the same partition mounts, journal replayed, in the same kernel booted alone);
    // and the first boot with a disk has not run through this file's other checks yet.
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
    // The same routes over the lab network refuse malformed input.
    const n0 = lab.nodes[0]!
    assert.equal((await fetch(new URL('/netboot/join/52:54:00:zz:00:00', nodeUrl(n0)))).status, 400)
    assert.equal(
      (await fetch(new URL(`/netboot/image/${'a'.repeat(64)}/..%2F..%2Fcluster.json`, nodeUrl(n0)))).status,
      400,
    )

    // Two machines plugged in at once; each is alive on every node when addTestVm returns
    // (a one-shot check afterwards caught a member flapping on a host at load 100).
    const [a, b] = await Promise.all([addTestVm(lab), addTestVm(lab)])
    assert.notEqual(a.mac, b.mac)

    // The node that served the first VM is unplugged: the next VM is served by another.
    const gone = served[0]!
    await labUnplug(lab.dir, gone)
    const next = await addTestVm(lab)
    const nextServed = await servedBy(
      lab,
      next.mac,
      lab.nodes.filter((n) => n.name !== gone),
    )
    assert.equal(nextServed.length, 1)
    assert.notEqual(nextServed[0], gone)
  })
})
