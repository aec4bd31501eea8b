import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startLab, view } from '../support/lab.js'
import { addTestVm, consoleText, machines, servedBy } from '../support/netboot.js'

// UEFI the way real hardware does it: OVMF's own PXE (the NIC's iPXE ROM is removed
// with romfile=) → proxyDHCP → TFTP ipxe.efi → iPXE → HTTP script → kernel. Needs root.
const root = process.getuid?.() === 0

describe('netboot (UEFI): firmware → TFTP → iPXE → HTTP', {
  skip: !root && 'needs root for namespaces, taps and dnsmasq',
}, () => {
  it('a UEFI VM fetches iPXE over TFTP, boots the image and joins', async () => {
    const lab = await startLab({ nodes: 2, netns: true, netboot: true, timeoutMs: 600_000 })
    // Returns once the VM is alive in every node's /api/v1/cluster.
    const vm = await addTestVm(lab, { uefi: true })
    assert.equal((await view(lab.nodes[0]!)).members.find((x) => x.name === vm.name)?.arch, 'amd64')
    const served = await servedBy(lab, vm.mac)
    assert.equal(served.length, 1)
    // Some node's dnsmasq sent ipxe.efi over TFTP (it may not be the node that served the script).
    const tftp = await Promise.all(
      lab.nodes.map(async (n) => (await machines(n)).find((m) => m.mac === vm.mac)?.stages.tftp),
    )
    assert.ok(
      tftp.some((t) => typeof t === 'number'),
      'a TFTP transfer was logged for the VM',
    )
    assert.match(await consoleText(vm), /homecloud: image verified/)
  })
})
