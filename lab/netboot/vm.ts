import { copyFile, mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { HomecloudError } from '../../agent/core/errors.js'
import { type LabFile, type LabVm, readLabFile, writeLabFile } from '../lab-file.js'
import { nodeUrl } from '../launcher.js'
import { spawnLabProcess } from '../processes.js'
import { fetchClusterView, waitFor } from '../wait.js'
import { vmIndexMax, vmMac, vmNodeName } from './names.js'
import { addVmTap } from './network.js'
import { OVMF_VARS, qemuCommand } from './qemu.js'

export interface AddVmOptions {
  uefi?: boolean
  /** Wait until the VM's agent is alive in every running node's view (default true). */
  wait?: boolean
  timeoutMs?: number
  lifetimeSeconds?: number
  progress?: (line: string) => void
}

/** Plugs a new machine into a netns lab: a qemu VM on the bridge that netboots from the nodes. */
export async function labAddVm(dirIn: string, opts: AddVmOptions = {}): Promise<LabVm> {
  const lab = await readLabFile(resolve(dirIn))
  if (lab.mode !== 'netns' || !lab.netboot) {
    throw new HomecloudError(
      'LAB_INVALID',
      'VMs netboot only in a namespace lab started with netboot',
      'start one with `sudo homecloud lab up --netns --netboot`',
    )
  }
  const used = new Set(lab.vms.map((v) => v.vm))
  let vm = 1
  while (used.has(vm)) vm++
  if (vm > vmIndexMax) throw new HomecloudError('LAB_INVALID', `a lab holds at most ${vmIndexMax} VMs`)
  const mac = vmMac(lab.index, vm)
  const name = vmNodeName(mac)
  const dir = join(lab.dir, 'vms', name)
  await mkdir(dir, { recursive: true })
  const tap = await addVmTap(lab.index, vm)
  const uefi = opts.uefi ?? false
  const ovmfVars = uefi ? join(dir, 'OVMF_VARS.fd') : undefined
  if (ovmfVars) await copyFile(OVMF_VARS, ovmfVars)
  const consoleLog = join(dir, 'console.log')
  const { cmd, args } = qemuCommand({
    mac,
    tap,
    uefi,
    consoleLog,
    ovmfVars,
    lifetimeSeconds: opts.lifetimeSeconds,
  })
  opts.progress?.(`powering on ${name} (${uefi ? 'UEFI' : 'BIOS'}, ${mac}); console: ${consoleLog}`)
  const entry: LabVm = {
    name,
    vm,
    mac,
    tap,
    uefi,
    pid: spawnLabProcess(lab.dir, cmd, args, join(dir, 'qemu.log')),
    consoleLog,
    startedAtMs: Date.now(),
  }
  lab.vms.push(entry)
  await writeLabFile(lab)
  if (opts.wait !== false) await waitVmJoined(lab, name, opts.timeoutMs ?? 600_000, opts.progress)
  return entry
}

/** Until the VM's agent is alive in the view of every running node. */
export async function waitVmJoined(
  lab: LabFile,
  name: string,
  timeoutMs: number,
  progress?: (line: string) => void,
): Promise<void> {
  await waitFor(
    async () => {
      const current = await readLabFile(lab.dir)
      const missing: string[] = []
      for (const n of current.nodes.filter((x) => x.pid !== null)) {
        const view = await fetchClusterView(nodeUrl(n))
        const m = view?.members.find((x) => x.name === name)
        if (m?.state !== 'alive') missing.push(n.name)
      }
      return missing.length === 0 ? true : `${name} not yet alive on ${missing.join(', ')}`
    },
    { timeoutMs, progress, intervalMs: 2000 },
  )
}
