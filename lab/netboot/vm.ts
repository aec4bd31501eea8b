import { access, copyFile, mkdir, readFile, rmdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { sleep, systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import type { ImageArch } from '../../agent/netboot/arch.js'
import { Mac } from '../../agent/netboot/mac.js'
import { readImage } from '../../agent/netboot/manifest.js'
import { type LabFile, type LabVm, readLabFile, type VmDisk, writeLabFile } from '../lab-file.js'
import { nodeUrl } from '../launcher.js'
import { findLabProcesses, killHard, spawnLabProcess } from '../processes.js'
import { fetchClusterView, waitFor } from '../wait.js'
import { vmIndexMax, vmMac, vmNodeName } from './names.js'
import { addVmTap } from './network.js'
import { AAVMF_CODE, AAVMF_VARS, firmwareVarsTemplate, qemuCommand, vmKubeMemoryMBDefault } from './qemu.js'

const labClock = systemClock({ keepAlive: true })
/** Polls (50 ms apart) for a SIGKILLed VM's processes to be gone: 10 s. */
const VM_EXIT_WAITS_MAX = 200

export interface AddVmOptions {
  uefi?: boolean
  /** arm64: qemu-system-aarch64 netbooting the lab's arm64 image through GRUB (always UEFI). */
  arch?: ImageArch
  /** Default: derived from the lab index and VM number. */
  mac?: string
  /** Wait until the VM's agent is alive in every running node's view (default true). */
  wait?: boolean
  timeoutMs?: number
  lifetimeSeconds?: number
  /** The guest may reboot (qemu without -no-reboot): needed to upgrade it. */
  reboots?: boolean
  progress?: (line: string) => void
  /** Local disks (raw image files): virtio vda, vdb… in this order. */
  disks?: VmDisk[]
}

/** Plugs a new machine into a netns lab: a qemu VM on the bridge that netboots from the nodes. */
export async function labAddVm(dirIn: string, opts: AddVmOptions = {}): Promise<LabVm> {
  const dir = resolve(dirIn)
  // Several VMs may be plugged in at once (tests, two terminals): picking the VM number,
  // its tap and the lab file update happen one at a time.
  const entry = await withLock(join(dir, 'vms.lock'), () => powerOn(dir, opts))
  if (opts.wait !== false) {
    await waitVmJoined(await readLabFile(dir), entry.name, opts.timeoutMs ?? 600_000, opts.progress)
  }
  return entry
}

async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      await mkdir(path)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i > 600) throw err
      await sleep(labClock, 100)
    }
  }
  try {
    return await fn()
  } finally {
    await rmdir(path).catch(() => {})
  }
}

async function powerOn(labDir: string, opts: AddVmOptions): Promise<LabVm> {
  const lab = await readLabFile(labDir)
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
  const mac = opts.mac ? Mac.parse(opts.mac) : vmMac(lab.index, vm)
  if (lab.vms.some((v) => v.mac === mac))
    throw new HomecloudError('LAB_INVALID', `a VM with MAC ${mac} exists already`)
  const name = vmNodeName(mac)
  const dir = join(lab.dir, 'vms', name)
  await mkdir(dir, { recursive: true })
  const arch = opts.arch ?? 'amd64'
  await assertLabServes(lab, arch)
  const tap = await addVmTap(lab.index, vm)
  const uefi = arch === 'arm64' || (opts.uefi ?? false)
  const ovmfVars = uefi ? join(dir, 'firmware-vars.fd') : undefined
  if (ovmfVars) await copyFile(firmwareVarsTemplate(arch), ovmfVars)
  const entry: LabVm = {
    name,
    vm,
    mac,
    tap,
    uefi,
    arch,
    pid: null,
    consoleLog: join(dir, 'console.log'),
    startedAtMs: labClock.nowMs(),
    disks: opts.disks ?? [],
  }
  entry.pid = spawnVm(lab, entry, opts)
  lab.vms.push(entry)
  await writeLabFile(lab)
  return entry
}

/** Starts qemu for a VM entry (its tap, firmware variables and disks); returns the pid. */
function spawnVm(
  lab: LabFile,
  v: LabVm,
  opts: Pick<AddVmOptions, 'lifetimeSeconds' | 'reboots' | 'progress'>,
): number {
  const dir = join(lab.dir, 'vms', v.name)
  const { cmd, args } = qemuCommand({
    mac: v.mac,
    tap: v.tap,
    arch: v.arch,
    uefi: v.uefi,
    consoleLog: v.consoleLog,
    ...(v.uefi ? { ovmfVars: join(dir, 'firmware-vars.fd') } : {}),
    lifetimeSeconds: opts.lifetimeSeconds,
    ...(opts.reboots ? { reboots: true } : {}),
    ...(lab.kube ? { memoryMB: vmKubeMemoryMBDefault } : {}),
    disks: v.disks,
  })
  const disks = v.disks.length ? `, disks ${v.disks.map((d) => d.file).join(' ')}` : ''
  opts.progress?.(
    `powering on ${v.name} (${v.arch} ${v.uefi ? 'UEFI' : 'BIOS'}, ${v.mac}${disks}); console: ${v.consoleLog}`,
  )
  return spawnLabProcess(lab.dir, cmd, args, join(dir, 'qemu.log'))
}

/**
 * A power cut: qemu and its `timeout` are killed without warning (the guest writes nothing
 * more), then the machine is powered on again with the same MAC, tap and disks; its console
 * goes to a new file (console-N.log), so each boot's lines can be read apart.
 */
export async function labVmPowerCycle(dirIn: string, name: string, opts: AddVmOptions = {}): Promise<LabVm> {
  const dir = resolve(dirIn)
  const entry = await withLock(join(dir, 'vms.lock'), async () => {
    const lab = await readLabFile(dir)
    const v = lab.vms.find((x) => x.name === name)
    if (!v) throw new HomecloudError('LAB_INVALID', `no VM named ${name} in this lab`)
    // qemu holds its disk images' locks until it is gone: the next one could not open them.
    await killVm(lab.dir, v)
    const boots = Number(/console-(\d+)\.log$/.exec(v.consoleLog)?.[1] ?? 1)
    v.consoleLog = join(lab.dir, 'vms', v.name, `console-${boots + 1}.log`)
    v.startedAtMs = labClock.nowMs()
    v.pid = spawnVm(lab, v, opts)
    await writeLabFile(lab)
    return v
  })
  if (opts.wait !== false) {
    await waitVmJoined(await readLabFile(dir), entry.name, opts.timeoutMs ?? 600_000, opts.progress)
  }
  return entry
}

/**
 * Pulls a VM's plug for good: qemu and its `timeout` killed and gone when this returns. The
 * VM stays in the lab file (pid null; its number, MAC and tap are not reused) and its
 * member goes dead in the mesh like any machine losing power. An idle TCG VM keeps a good
 * part of a core busy, so a test powers off the machines it has checked.
 */
export async function labVmPowerOff(dirIn: string, name: string): Promise<void> {
  const dir = resolve(dirIn)
  await withLock(join(dir, 'vms.lock'), async () => {
    const lab = await readLabFile(dir)
    const v = lab.vms.find((x) => x.name === name)
    if (!v) throw new HomecloudError('LAB_INVALID', `no VM named ${name} in this lab`)
    await killVm(lab.dir, v)
    v.pid = null
    await writeLabFile(lab)
  })
}

/** SIGKILL to the VM's process group, then until no lab process names its tap (or an error). */
async function killVm(labDir: string, v: LabVm): Promise<void> {
  if (v.pid) await killHard(v.pid, labDir)
  for (let i = 0; i < VM_EXIT_WAITS_MAX && (await vmProcessesOf(labDir, v.tap)).length > 0; i++)
    await sleep(labClock, 50)
  const left = await vmProcessesOf(labDir, v.tap)
  if (left.length > 0)
    throw new HomecloudError('LAB_INVALID', `${v.name}'s processes ${left.join(', ')} outlived SIGKILL`)
}

/** The lab's processes whose command line names this tap (its qemu and `timeout`). */
async function vmProcessesOf(labDir: string, tap: string): Promise<number[]> {
  const out: number[] = []
  for (const pid of await findLabProcesses(labDir)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(`ifname=${tap},`)) out.push(pid)
  }
  return out
}

/** A VM of an architecture the lab's nodes serve no image for would wait for nothing: say so first. */
async function assertLabServes(lab: LabFile, arch: ImageArch): Promise<void> {
  const dirs = lab.netboot ? [lab.netboot.imageDir, ...lab.netboot.otherArchs.map((o) => o.imageDir)] : []
  for (const d of dirs)
    if ((await readImage(d).catch(() => null))?.manifest.arch === arch) {
      const firmware = arch === 'arm64' ? [AAVMF_CODE, AAVMF_VARS] : []
      for (const f of firmware) {
        if (
          !(await access(f).then(
            () => true,
            () => false,
          ))
        )
          throw new HomecloudError(
            'LAB_INVALID',
            `${f} is missing`,
            'apt-get install qemu-system-arm qemu-efi-aarch64',
          )
      }
      return
    }
  throw new HomecloudError(
    'LAB_INVALID',
    `this lab's nodes serve no ${arch} netboot image`,
    `start the lab with \`lab up --netns --netboot --netboot-arch amd64,${arch}\``,
  )
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
