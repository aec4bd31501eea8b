import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { GRUB_SERVER_PLACEHOLDER } from '../../agent/netboot/grub.js'
import { readImage } from '../../agent/netboot/manifest.js'
import { labUnplug, nodeUrl } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { eventually, startLab, TEST_MESH, view } from '../support/lab.js'
import {
  addTestVm,
  consoleText,
  machines,
  servedBy,
  waitVmAliveWhileProgressing,
} from '../support/netboot.js'
import { PI_SERIALS, playPis } from '../support/rpi-boot.js'

const run = promisify(execFile)

// An arm64 machine the way an arm64 UEFI board boots: qemu-system-aarch64 (`virt`, TCG,
// Debian's AAVMF firmware) → the firmware's PXE gets a proxyDHCP answer for client arch
// 11 → TFTP grubnetaa64.efi (this node's address written in) → GRUB asks boot.grub over
// HTTP → the arm64 kernel and initramfs → /init checks the image and starts the arm64
// node with the agent → it joins and is alive on every node. One VM: TCG arm64 is slow.
// Before it, in the same lab (they were two files, a lab each), a Raspberry Pi 4 and 5 play
// their DHCP and TFTP exchange against the nodes (test/support/rpi-boot.ts). Needs root.
const root = process.getuid?.() === 0

describe('netboot (arm64 UEFI): firmware → TFTP GRUB → HTTP → arm64 agent', {
  skip: !root && 'needs root for namespaces, taps and dnsmasq',
}, () => {
  it('an arm64 VM netboots through GRUB and joins as an arm64 member; Pis get their files', async (t) => {
    const lab = await startLab({
      nodes: 2,
      netns: true,
      netboot: true,
      netbootArchs: ['amd64', 'arm64'],
      agentConfig: { mesh: TEST_MESH, netboot: { raspberryPi: { enabled: true, serials: PI_SERIALS } } },
      timeoutMs: 600_000,
    })
    // Every node serves GRUB with its own address in place of the placeholder (real TFTP,
    // curl's client) — once the arm64 release is current there (a few seconds after every
    // node holds it: the netboot loop runs every 3 s).
    const tmp = await mkdtemp(join(tmpdir(), 'hc-arm64-tftp-'))
    try {
      for (const n of lab.nodes) {
        const out = join(tmp, `${n.name}.efi`)
        await waitFor(
          async () => {
            const got = await run('curl', [
              '-sS',
              '--max-time',
              '20',
              '-o',
              out,
              `tftp://${n.address}/grubnetaa64.efi`,
            ]).then(
              (): true => true,
              (err: Error) =>
                `${n.name} serves no grubnetaa64.efi yet (${err.message.split('\n')[1] ?? err.message})`,
            )
            return got
          },
          { timeoutMs: 60_000, intervalMs: 1000 },
        )
        const grub = (await readFile(out)).toString('latin1')
        assert.ok(!grub.includes(GRUB_SERVER_PLACEHOLDER), `${n.name}: placeholder replaced`)
        assert.ok(
          grub.includes(`set homecloud_server=${n.address}:7080 `),
          `${n.name} serves its own address`,
        )
      }
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }

    await t.test(
      'Raspberry Pi 4 and 5: "Raspberry Pi Boot" offered, firmware, config and kernel served from serial folders and the root, join material handed over',
      async () => {
        // What the nodes serve is the lab's arm64 release of the image (its manifest adds
        // piece hashes, so its id is the release's, not the image directory's).
        const arm64 = lab.netboot!.otherArchs[0]!
        const image = await readImage(arm64.releaseDir)
        assert.equal(image.manifest.arch, 'arm64')
        assert.equal(image.id, arm64.releaseId)
        await playPis(lab, image)
      },
    )

    const vm = await addTestVm(lab, { arch: 'arm64', wait: false })
    assert.equal(vm.arch, 'arm64')
    await waitVmAliveWhileProgressing(lab, vm, { stallMs: 300_000 })
    const member = (await view(lab.nodes[0]!)).members.find((x) => x.name === vm.name)
    assert.equal(member?.arch, 'arm64')
    const served = await servedBy(lab, vm.mac)
    assert.equal(served.length, 1, `exactly one node served ${vm.mac}: ${served}`)
    const server = lab.nodes.find((n) => n.name === served[0])!
    const entry = (await machines(server)).find((m) => m.mac === vm.mac)
    assert.ok(entry?.stages.grub, 'the serving node answered GRUB')
    assert.ok(entry?.stages['agent-start'], 'the guest reported starting the agent')
    const tftp = await Promise.all(
      lab.nodes.map(async (n) => (await machines(n)).find((m) => m.mac === vm.mac)?.stages.tftp),
    )
    assert.ok(
      tftp.some((t) => typeof t === 'number'),
      'a TFTP transfer (GRUB) was logged for the VM',
    )
    const text = await consoleText(vm)
    assert.match(text, /homecloud: GRUB arm64-efi on 52:54:00:/)
    assert.match(text, /homecloud: image verified/)
    for (const n of lab.nodes.filter((x) => x.name !== server.name)) {
      const r = await fetch(new URL(`/netboot/join/${vm.mac}`, nodeUrl(n)))
      assert.equal(r.status, 404, `${n.name} did not serve ${vm.mac}`)
    }

    // Its agent is a real member: once the node that served it is unplugged and dead, it is still alive.
    await labUnplug(lab.dir, server.name)
    const other = lab.nodes.find((n) => n.name !== server.name)!
    await eventually(
      [other],
      (v) =>
        v.members.find((m) => m.name === server.name)?.state === 'dead' &&
        v.members.find((m) => m.name === vm.name)?.state === 'alive',
      `${server.name} dead and ${vm.name} alive`,
      120_000,
    )
  })
})
