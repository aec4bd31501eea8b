import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { statePaths } from '../../agent/state/paths.js'
import { readJoinMaterial } from '../../agent/trust/join-material.js'
import type { LabFile } from '../../lab/lab-file.js'
import { onCleanup, runCleanups, startLab, view } from '../support/lab.js'
import type { JoinReply, RogueArgs, RogueLine } from '../support/rogue-peer.js'

// The signer's side of Kubernetes node identities, over the real mesh: a rogue process
// joins a real cluster properly (so it is a member), then asks the founder for kubelet and
// kwok certificates. Its own kubelet certificate is signed; another member's name — asked
// for outright, or slipped into the CSR — and extra groups are refused with a reason.

const roguePath = fileURLToPath(new URL('../support/rogue-peer.ts', import.meta.url))
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const DHT_PORT = 49737

const rogues = new Set<ChildProcess>()
const killRogues = async () => {
  for (const c of rogues) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rogues.clear()
}
onCleanup(killRogues)
after(killRogues)
after(runCleanups)

// Module level, not in before(): startLab registers its teardown with after().
const lab: LabFile = await startLab({ nodes: 2 })

describe('Kubernetes node certificates asked for over the mesh', () => {
  it("a member asking for a kubelet/kwok certificate in another node's name → refused; its own is signed", async () => {
    const [founder, taken] = lab.nodes as [LabFile['nodes'][0], LabFile['nodes'][0]]
    const material = await readJoinMaterial(statePaths(founder.stateDir).joinFile)
    assert.ok(material)
    const takenId = (await view(taken)).self
    const args: RogueArgs = {
      clusterId: lab.clusterId,
      targets: lab.nodes.map((n) => ({ key: n.key, host: n.address, port: DHT_PORT })),
      dial: 0,
      host: `127.0.${lab.index}.200`,
      scenario: 'node-cert-other-name',
      secret: material.secret,
      other: { id: takenId, name: taken.name, address: taken.address },
    }
    const child = spawn(process.execPath, ['--import', 'tsx', roguePath, JSON.stringify(args)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    rogues.add(child)
    let stdout = ''
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
    clearTimeout(timer)
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as RogueLine)
    const report = lines.map((l) => JSON.stringify(l)).join('\n')
    assert.equal(code, 0, report)
    const id = String(lines.find((l) => l.event === 'ready')?.id)
    const replies = lines.filter((l) => l.event === 'reply') as unknown as (JoinReply & { what: string })[]
    const by = (what: string) => replies.find((r) => r.what === what)
    assert.equal(by('a valid join')?.t, 'join-signed', report)
    const own = by('kubelet certificate for our own name')
    assert.equal(own?.t, 'node-cert', report)
    assert.equal(own?.certCn, `system:node:rogue-${id.slice(0, 6)}`, report)
    for (const [what, reason] of [
      [`kubelet certificate for ${taken.name}`, 'name-not-own'],
      [`kubelet certificate under our name, CSR naming ${taken.name}`, 'bad-csr'],
      [`kwok certificate for ${taken.name}`, 'name-not-own'],
      ['kubelet certificate under our name asking for system:masters', 'bad-csr'],
    ] as const) {
      const r = by(what)
      assert.equal(r?.t, 'node-cert-refused', `${what}\n${report}`)
      assert.equal(r?.reason, reason, `${what}\n${report}`)
    }
    // The signer counted each refusal by profile and reason.
    const metrics = await (await fetch(`http://${founder.address}:7080/metrics`)).text()
    for (const line of [
      'homecloud_node_certificates_refused_total{profile="kubelet",reason="name-not-own"} 1',
      'homecloud_node_certificates_refused_total{profile="kwok",reason="name-not-own"} 1',
      'homecloud_node_certificates_refused_total{profile="kubelet",reason="bad-csr"} 2',
    ])
      assert.ok(metrics.split('\n').includes(line), `${line}\n${metrics}`)
  })
})
