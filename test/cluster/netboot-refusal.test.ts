import assert from 'node:assert/strict'
import { cp, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ensureNetbootImage } from '../../lab/netboot/image.js'
import { isLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { startLab, view } from '../support/lab.js'
import { addTestVm, consoleText, machines } from '../support/netboot.js'

// Machines the cluster must not run: one it does not adopt (no answer at all), and one
// whose image fails its checksum (it boots, refuses to start the agent, and says why on
// its console). Needs root.
const root = process.getuid?.() === 0
const knownMac = '52:54:00:4c:ee:01'

describe('netboot refusals', { skip: !root && 'needs root for namespaces, taps and dnsmasq' }, () => {
  it('adoption `known`: a stranger gets no answer; a known machine with a corrupted image refuses to start the agent', async () => {
    // A private copy of the image, so corrupting it touches no other lab.
    const imageDir = await mkdtemp(join(tmpdir(), 'hc-netboot-image-'))
    after(() => rm(imageDir, { recursive: true, force: true }))
    await cp(await ensureNetbootImage(() => {}), imageDir, { recursive: true })
    const lab = await startLab({
      nodes: 2,
      netns: true,
      netboot: true,
      imageDir,
      timeoutMs: 600_000,
      agentConfig: { netboot: { adoption: 'known', knownMacs: [knownMac] } },
    })

    const stranger = await addTestVm(lab, { wait: false })
    // The firmware gives up and qemu exits (-no-reboot); 4 minutes is plenty for a PXE timeout.
    await waitFor(
      async () => ((await isLabProcess(stranger.pid!, lab.dir)) ? 'stranger still trying' : true),
      {
        timeoutMs: 240_000,
        intervalMs: 2000,
      },
    ).catch(() => {})
    for (const n of lab.nodes) {
      const m = (await machines(n)).find((x) => x.mac === stranger.mac)
      // No proxy offer (dnsmasq logged no PXE answer), no boot script, no image, no join
      // material, never a member.
      assert.equal(m?.stages.dhcp, undefined, `${n.name} sent the stranger no proxy offer`)
      assert.equal(m?.servedMs ?? null, null, `${n.name} served no boot script to the stranger`)
      assert.equal(m?.stages.kernel, undefined)
      assert.equal(m?.stages['join-material'], undefined)
      assert.ok(!(await view(n)).members.some((x) => x.name === stranger.name))
    }
    assert.doesNotMatch(await consoleText(stranger), /homecloud:/)

    // Bit rot after the nodes checked the image at start: same size, one byte flipped.
    const f = await open(join(imageDir, 'agent.tar.zst'), 'r+')
    const b = Buffer.alloc(1)
    await f.read(b, 0, 1, 4096)
    b[0] = b[0]! ^ 0xff
    await f.write(b, 0, 1, 4096)
    await f.close()
    const known = await addTestVm(lab, { mac: knownMac, wait: false })
    await waitFor(
      async () =>
        /REFUSING TO START THE AGENT/.test(await consoleText(known)) ? true : 'waiting for the refusal',
      { timeoutMs: 900_000, intervalMs: 2000 },
    )
    const text = await consoleText(known)
    assert.match(
      text,
      /REFUSING TO START THE AGENT: agent\.tar\.zst has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/,
    )
    assert.doesNotMatch(text, /starting the agent/)
    const reports = await Promise.all(
      lab.nodes.map(async (n) => (await machines(n)).find((x) => x.mac === knownMac)),
    )
    assert.ok(
      reports.some((m) => m?.failure?.includes('agent.tar.zst')),
      'the serving node was told why',
    )
    for (const n of lab.nodes) assert.ok(!(await view(n)).members.some((x) => x.name === known.name))
  })
})
