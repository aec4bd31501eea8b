import assert from 'node:assert/strict'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { startLab, view } from '../support/lab.js'
import { addTestVm, consoleText, machines } from '../support/netboot.js'

// Machines the cluster must not run: one it does not adopt (no answer at all), and one
// whose image fails its checksum (it boots, refuses to start the agent, and says why on
// its console). The nodes serve the lab's release from their release stores, so the
// rot goes there. Needs root.
const root = process.getuid?.() === 0
const knownMac = '52:54:00:4c:ee:01'

describe('netboot refusals', { skip: !root && 'needs root for namespaces, taps and dnsmasq' }, () => {
  it('adoption `known`: a stranger gets no answer; a known machine with a corrupted image refuses to start the agent', async () => {
    const lab = await startLab({
      nodes: 2,
      netns: true,
      netboot: true,
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

    // Bit rot after the nodes checked the release piece by piece: same size, one byte
    // flipped in what the nodes serve — each node's copy in its release store (either may
    // answer the machine). Nothing checks a held piece again until a peer asks for it.
    const releaseId = lab.netboot?.releaseId
    assert.ok(releaseId, 'the lab published its release')
    for (const n of lab.nodes)
      await flipByte(join(n.stateDir, 'releases', 'store', releaseId, 'agent.tar.zst'), 4096)
    const known = await addTestVm(lab, { mac: knownMac, wait: false })
    // Booting under TCG, fetching and hashing the image: a minute or two. The machine
    // halts after refusing; one that starts the agent or halts silently fails at once.
    await waitFor(
      async () => {
        const text = await consoleText(known)
        if (/REFUSING TO START THE AGENT/.test(text)) return true
        const seen = `console so far: ${lastLines(text)}`
        if (/starting the agent/.test(text))
          throw new Error(`the agent started on a corrupted image; ${seen}`)
        if (!(await isLabProcess(known.pid!, lab.dir))) {
          // It may have refused between the two reads.
          if (/REFUSING TO START THE AGENT/.test(await consoleText(known))) return true
          throw new Error(`the VM stopped without refusing; ${seen}`)
        }
        return `waiting for the refusal; ${seen}`
      },
      { timeoutMs: 300_000, intervalMs: 2000 },
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

async function flipByte(path: string, at: number): Promise<void> {
  const f = await open(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    assert.equal((await f.read(b, 0, 1, at)).bytesRead, 1, `${path} is shorter than ${at + 1} bytes`)
    b[0] = b[0]! ^ 0xff
    await f.write(b, 0, 1, at)
  } finally {
    await f.close()
  }
}

const lastLines = (text: string, n = 3) =>
  JSON.stringify(text.trim().split('\n').slice(-n).join(' | ').slice(-400))
