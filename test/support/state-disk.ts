import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'
import { type LabFile, type LabVm, readLabFile } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { labVmPowerCycle, waitVmJoined } from '../../lab/netboot/vm.js'
import { view } from './lab.js'
import { addTestVm, consoleText } from './netboot.js'

// A netbooted VM with three local disks (host-made raw images on virtio): vda an ext4 with
// data, vdb an ext4 labelled homecloud-state, vdc blank. Under the default policy
// (labelled-only) its state goes on vdb; vda and vdc must keep every byte. Then a power
// cut (qemu SIGKILLed) and a power-on: the machine comes back as the same node (same id,
// so the same key; no join material asked), its state still on vdb.

const diskMiB = 300

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk)
  return h.digest('hex')
}

async function makeDisks(dir: string): Promise<{ data: string; state: string; blank: string }> {
  await mkdir(join(dir, 'photos'), { recursive: true })
  await writeFile(join(dir, 'photos', 'holiday.txt'), 'a file nobody may lose\n')
  const files = { data: join(dir, 'data.img'), state: join(dir, 'state.img'), blank: join(dir, 'blank.img') }
  for (const f of Object.values(files)) await execa('truncate', ['-s', `${diskMiB}M`, f])
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'photos', '-d', join(dir, 'photos'), files.data])
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'homecloud-state', files.state])
  return files
}

/** The VM's own status API: its self member (the agent answering there is the current boot). */
/**
 * What the VM's agent logged on its console (the host cannot reach a VM's own API: only
 * the lab's nodes are routed): its node id at start, and its facts' stateDisk line. Waits
 * until both are there.
 */
async function agentSays(vm: LabVm): Promise<{ id: string; created: boolean; stateDisk: string }> {
  for (let i = 0; ; i++) {
    const text = await consoleText(vm)
    const start = /\{[^\n]*"msg":"agent starting"[^\n]*\}/.exec(text)?.[0]
    const facts = /\{[^\n]*"msg":"hardware facts"[^\n]*\}/.exec(text)?.[0]
    if (start && facts) {
      const s = JSON.parse(start) as { node: string; created: boolean }
      return {
        id: s.node,
        created: s.created,
        stateDisk: (JSON.parse(facts) as { stateDisk?: string }).stateDisk ?? '',
      }
    }
    assert.ok(i < 1500, `${vm.name}'s agent never logged its start and facts:\n${text.slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 1000))
  }
}

async function memberOf(lab: LabFile, vm: LabVm) {
  const m = (await view(lab.nodes[0]!)).members.find((x) => x.name === vm.name && x.state === 'alive')
  assert.ok(m, `${vm.name} is alive in ${lab.nodes[0]!.name}'s view`)
  return m
}

export async function powerCutComesBackAsItself(lab: LabFile): Promise<void> {
  const dir = join(lab.dir, 'state-disks')
  const files = await makeDisks(dir)
  const before = { data: await sha256(files.data), blank: await sha256(files.blank) }
  const disks = [{ file: files.data }, { file: files.state }, { file: files.blank }].map((d) => ({
    ...d,
    readonly: false,
  }))
  const vm = await addTestVm(lab, { disks })
  assert.match(
    await consoleText(vm),
    /homecloud: state on \/dev\/vdb \(labelled homecloud-state, \d+ MiB free\)/,
  )
  const first = await memberOf(lab, vm)
  const firstRun = await agentSays(vm)
  assert.equal(firstRun.id, first.id)
  assert.ok(firstRun.created, 'the first boot made its identity')
  assert.match(firstRun.stateDisk, /^on \/dev\/vdb \(labelled homecloud-state/)

  // Alive in the mesh comes before the certificate is written: the plug is pulled once the
  // node's certificate is on the state disk (read from the image with e2fsprogs' debugfs,
  // while qemu runs; what the guest fsynced is in the host's page cache). Pulled earlier,
  // the machine comes back with its key and joins again under the same id.
  for (let i = 0; ; i++) {
    const r = await execa('debugfs', ['-R', 'cat /pki/node.crt', files.state], { reject: false })
    if (r.stdout.includes('-----END CERTIFICATE-----')) break
    assert.ok(i < 600, `${vm.name}'s certificate never reached its state disk`)
    await new Promise((res) => setTimeout(res, 1000))
  }
  // Pull the plug; power on again with the same disks.
  const again = await labVmPowerCycle(lab.dir, vm.name, {
    timeoutMs: 1_500_000,
    lifetimeSeconds: 3600,
    wait: false,
  })
  // The agent of the new boot starts with the identity on the disk.
  const secondRun = await agentSays(again)
  assert.equal(secondRun.id, first.id, 'the agent started with the same node id (its key on the state disk)')
  assert.equal(secondRun.created, false, 'no new identity made')
  assert.match(secondRun.stateDisk, /^on \/dev\/vdb .*this node was here before/)
  const second = await consoleText(again)
  assert.match(second, /the state disk holds this node: starting as the same node, no join material asked/)
  assert.match(
    second,
    /state on \/dev\/vdb \(labelled homecloud-state, \d+ MiB free\); this node was here before/,
  )
  await waitVmJoined(await readLabFile(lab.dir), vm.name, 1_500_000)
  const back = await memberOf(lab, vm)
  assert.equal(back.id, first.id, 'the same node id (the same key) after the power cut')
  const all = (await view(lab.nodes[0]!)).members.filter((x) => x.name === vm.name)
  assert.deepEqual(
    all.map((x) => x.id),
    [first.id],
    'one member for the machine: no successor under a new key',
  )
  assert.equal(await sha256(files.data), before.data, 'the disk with data kept every byte')
  assert.equal(await sha256(files.blank), before.blank, 'the blank disk was not adopted (labelled-only)')
}

/**
 * The cluster allows adopt-empty (`homecloud settings`, signed and gossiped; every node's
 * boot line says so), and a VM with one blank disk partitions and formats it, and keeps
 * its state there.
 */
export async function blankDiskAdoptedWhenAllowed(lab: LabFile): Promise<void> {
  const admin = join(lab.dir, 'admin.json')
  await execa(process.execPath, [
    join(packageRoot(), 'bin', 'homecloud.js'),
    'settings',
    '--state-disk-policy',
    'adopt-empty',
    '--admin',
    admin,
  ])
  // A MAC no VM has: only to read each node's boot line.
  const probe = '52:54:00:ee:ee:01'
  for (const n of lab.nodes.filter((x) => x.pid !== null)) {
    for (let i = 0; ; i++) {
      const r = await fetch(new URL(`/netboot/boot.ipxe?mac=${probe}&arch=x86_64`, nodeUrl(n))).catch(
        () => null,
      )
      if (r?.ok && /homecloud\.statedisk=adopt-empty/.test(await r.text())) break
      assert.ok(i < 300, `${n.name} never wrote homecloud.statedisk=adopt-empty on its boot line`)
      await new Promise((res) => setTimeout(res, 1000))
    }
  }
  const blank = join(lab.dir, 'state-disks', 'blank-adopt.img')
  await execa('truncate', ['-s', `${diskMiB}M`, blank])
  const vm = await addTestVm(lab, { disks: [{ file: blank, readonly: false }] })
  const text = await consoleText(vm)
  assert.match(text, /homecloud: adopting the empty disk \/dev\/vda/)
  assert.match(text, /homecloud: state on \/dev\/vda1 \(adopted, made homecloud-state, \d+ MiB free\)/)
  await memberOf(lab, vm)
  assert.match((await agentSays(vm)).stateDisk, /^on \/dev\/vda1 \(adopted/)
  const { stdout } = await execa('blkid', ['-p', '-o', 'export', '--offset', String(2048 * 512), blank])
  assert.match(stdout, /LABEL=homecloud-state/)
  assert.match(stdout, /TYPE=ext4/)
}
