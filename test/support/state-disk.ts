import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'
import { type LabFile, type LabVm, readLabFile, type VmDisk } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { labVmPowerCycle, waitVmJoined } from '../../lab/netboot/vm.js'
import { view } from './lab.js'
import { consoleText } from './netboot.js'

// A netbooted VM with a blank local disk under the cluster setting adopt-empty: /init
// partitions and formats it and keeps the node's state there. Pulled from power the moment
// it is alive on every node, it must come back as the same member: same node id, no join
// (the join-save rule: alive anywhere means the certificate is on the disk).

const diskMiB = 300
/** How long a VM's console may take to show its agent's start (TCG on two busy cores). */
const AGENT_START_WAIT_MS = 1_500_000

/** The cluster allows adopting empty disks; every running node's boot line says so. */
export async function allowAdoptEmpty(lab: LabFile): Promise<void> {
  const cli = join(packageRoot(), 'bin', 'homecloud.js')
  const admin = join(lab.dir, 'admin.json')
  await execa(process.execPath, [cli, 'settings', '--state-disk-policy', 'adopt-empty', '--admin', admin])
  // A MAC no VM has: only to read each node's boot line.
  const probe = '52:54:00:ee:ee:01'
  for (const n of lab.nodes.filter((x) => x.pid !== null)) {
    for (let i = 0; ; i++) {
      const url = new URL(`/netboot/boot.ipxe?mac=${probe}&arch=x86_64`, nodeUrl(n))
      const r = await fetch(url).catch(() => null)
      if (r?.ok && /homecloud\.statedisk=adopt-empty/.test(await r.text())) break
      assert.ok(i < 300, `${n.name} never wrote homecloud.statedisk=adopt-empty on its boot line`)
      await new Promise((res) => setTimeout(res, 1000))
    }
  }
}

/** A blank raw disk for a VM (sparse: costs nothing until written). */
export async function blankDisk(lab: LabFile, name: string): Promise<VmDisk> {
  const dir = join(lab.dir, 'state-disks')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `${name}.img`)
  await execa('truncate', ['-s', `${diskMiB}M`, file])
  return { file, readonly: false }
}

/**
 * What the VM's agent logged on its console (the host cannot reach a VM's own API: only
 * the lab's nodes are routed): its node id and whether it starts as a member, and its
 * facts' state-disk line. Waits until both are there.
 */
async function agentSays(
  vm: LabVm,
): Promise<{ id: string; created: boolean; status: string; stateDisk: string }> {
  const deadline = Date.now() + AGENT_START_WAIT_MS
  for (;;) {
    const text = await consoleText(vm)
    const start = /\{[^\n]*"msg":"agent starting"[^\n]*\}/.exec(text)?.[0]
    const facts = /\{[^\n]*"msg":"hardware facts"[^\n]*\}/.exec(text)?.[0]
    if (start && facts) {
      const s = JSON.parse(start) as { node: string; created: boolean; status: string }
      const stateDisk = (JSON.parse(facts) as { stateDisk?: string }).stateDisk ?? ''
      return { id: s.node, created: s.created, status: s.status, stateDisk }
    }
    assert.ok(
      Date.now() < deadline,
      `${vm.name}'s agent never logged its start and facts:\n${text.slice(-2000)}`,
    )
    await new Promise((r) => setTimeout(r, 1000))
  }
}

type Joins = { signed: number; answeredAgain: number }

/** Joins signed and joins answered with a held certificate, summed over the lab's running nodes. */
async function joinsAnswered(lab: LabFile): Promise<Joins> {
  let signed = 0
  let answeredAgain = 0
  for (const n of lab.nodes.filter((x) => x.pid !== null)) {
    const text = await (await fetch(new URL('/metrics', nodeUrl(n)))).text()
    for (const m of text.matchAll(/^homecloud_certificates_signed_total\{mode="join"\} (\d+)$/gm))
      signed += Number(m[1])
    for (const m of text.matchAll(/^homecloud_joins_answered_again_total(?:\{[^}]*\})? (\d+)$/gm))
      answeredAgain += Number(m[1])
  }
  return { signed, answeredAgain }
}

/** The first boot adopted the blank disk (vda) and keeps its state there: console and agent say so. */
export async function adoptedBlankDisk(vm: LabVm): Promise<{ id: string }> {
  const first = await consoleText(vm)
  assert.match(first, /homecloud: adopting the empty disk \/dev\/vda/)
  assert.match(first, /homecloud: state on \/dev\/vda1 \(adopted, made homecloud-state, \d+ MiB free\)/)
  const run = await agentSays(vm)
  assert.equal(run.status, 'joining')
  assert.match(run.stateDisk, /^on \/dev\/vda1 \(adopted, made homecloud-state/)
  return { id: run.id }
}

/** A power cut now (qemu killed), and the machine powered on again with the same MAC and disk. */
export async function cutPower(lab: LabFile, vm: LabVm): Promise<{ again: LabVm; joins: Joins }> {
  const joins = await joinsAnswered(lab)
  const again = await labVmPowerCycle(lab.dir, vm.name, {
    timeoutMs: AGENT_START_WAIT_MS,
    lifetimeSeconds: 3600,
    wait: false,
  })
  return { again, joins }
}

/**
 * After `cutPower`: the same node id, started as a member from its disk (no join material
 * asked), alive everywhere as the one member for the machine, and no join certificate signed
 * or handed back for it on any node.
 */
export async function comesBackAsItself(
  lab: LabFile,
  first: { id: string; name: string },
  cut: { again: LabVm; joins: Joins },
): Promise<void> {
  const secondRun = await agentSays(cut.again)
  assert.equal(secondRun.id, first.id, 'the same node id: its key was on the state disk')
  assert.equal(secondRun.created, false, 'no new identity made')
  assert.equal(secondRun.status, 'member', 'its certificate was on the disk: no join')
  assert.match(secondRun.stateDisk, /^on \/dev\/vda1 \(labelled homecloud-state.*this node was here before/)
  const second = await consoleText(cut.again)
  assert.match(second, /the state disk holds this node: starting as the same node, no join material asked/)
  await waitVmJoined(await readLabFile(lab.dir), first.name, AGENT_START_WAIT_MS)
  const members = (await view(lab.nodes[0]!)).members.filter((m) => m.name === first.name)
  assert.deepEqual(
    members.map((m) => [m.id, m.state]),
    [[first.id, 'alive']],
    'one member for the machine, alive under its old id',
  )
  assert.deepEqual(await joinsAnswered(lab), cut.joins, 'no certificate signed or handed back for it')
}
