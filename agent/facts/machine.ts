import { readdir, readFile } from 'node:fs/promises'
import os from 'node:os'
import si, { type Systeminformation } from 'systeminformation'
import { type Clock, systemClock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import { diskHoldingPath, LINUX_PATHS, readBlockInfo, type SysPaths } from './block-device.js'
import { probeFsync } from './fsync-probe.js'
import { inRam } from './in-ram.js'
import { archFromNode, boardName, cpuModelName, hardwareMacs } from './machine-parse.js'
import { Facts, type FsyncProbe, type StorageClass, type StorageDevice } from './schema.js'
import { type BlockDeviceInfo, classifyStorage } from './storage-class.js'

export interface MachineFactsInit {
  dataDir: string
  /** Time fdatasync in dataDir (default true); false leaves `fsync` null. */
  probe?: boolean
  log?: Logger
  clock?: Clock
  /** Per systeminformation call: a hung lsblk or smartctl must not hang startup. */
  callTimeoutMs?: number
  sysPaths?: SysPaths
}

const callTimeoutMsDefault = 10_000
const storageDevicesMax = 64

// Kernel devices that are not disks; listing them would only add noise.
const NOT_A_DISK = /^(loop|ram|zram|dm-|md|nbd|sr|fd|rbd|zd)/

/** Facts about this machine. Every source is optional: a failing one gives a default. */
export async function readMachineFacts(init: MachineFactsInit): Promise<Facts> {
  const clock = init.clock ?? systemClock()
  const paths = init.sysPaths ?? LINUX_PATHS
  const call = <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> =>
    guarded(what, fn, fallback, clock, init.callTimeoutMs ?? callTimeoutMsDefault, init.log)

  const [cpu, mem, osInfo, system, layout, blocks, ifaces] = await Promise.all([
    call('cpu', () => si.cpu(), null),
    call('mem', () => si.mem(), null),
    call('osInfo', () => si.osInfo(), null),
    call('system', () => si.system(), null),
    call('diskLayout', () => si.diskLayout(), [] as Systeminformation.DiskLayoutData[]),
    call('blockDevices', () => si.blockDevices(), [] as Systeminformation.BlockDevicesData[]),
    call('networkInterfaces', () => si.networkInterfaces(), [] as Systeminformation.NetworkInterfacesData[]),
  ])

  const arch = archFromNode(osInfo?.arch || process.arch)
  const isX86 = arch === 'amd64' || arch === '386'
  const deviceTreeModel = isX86 ? '' : await readFile('/proc/device-tree/model', 'utf8').catch(() => '')
  const board = boardName({ arch, deviceTreeModel, manufacturer: system?.manufacturer, model: system?.model })

  const cpuModel = cpuModelName(cpu?.manufacturer, cpu?.brand) || os.cpus()[0]?.model.trim() || 'unknown'
  const cores = positiveInt(cpu?.cores) ?? positiveInt(os.availableParallelism()) ?? 1
  const memoryMB = Math.round((mem?.total || os.totalmem()) / 2 ** 20)

  const disks = await readDisks(blocks, layout, paths)
  const storage: StorageDevice[] = disks.slice(0, storageDevicesMax).map((d) => d.device)
  const dataStorageClass = await call(
    'dataStorageClass',
    () => dataClass(init.dataDir, disks, paths),
    'unknown',
  )

  const macs = hardwareMacs((Array.isArray(ifaces) ? ifaces : [ifaces]).filter(Boolean))

  let fsync: FsyncProbe | null = null
  if (init.probe !== false) {
    fsync = await probeFsync(init.dataDir, { clock }).catch((err: unknown) => {
      init.log?.warn({ err, dataDir: init.dataDir }, 'fsync probe failed')
      return null
    })
  }

  return Facts.parse({
    arch,
    board,
    cpuModel,
    cores,
    memoryMB,
    storage,
    dataStorageClass,
    macs,
    fsync,
    ramOnly: await inRam(init.dataDir),
    source: 'machine',
  })
}

interface Disk {
  info: BlockDeviceInfo
  device: StorageDevice
}

async function readDisks(
  blocks: readonly Systeminformation.BlockDevicesData[],
  layout: readonly Systeminformation.DiskLayoutData[],
  paths: SysPaths,
): Promise<Disk[]> {
  let found = blocks
    .filter((b) => b.type === 'disk' && b.size > 0 && !NOT_A_DISK.test(b.name))
    .map((b) => ({ name: b.name, size: b.size, block: b as Systeminformation.BlockDevicesData | undefined }))
  if (found.length === 0) found = await sysfsDisks(paths)

  return Promise.all(
    found.map(async ({ name, size, block }) => {
      const lay = layout.find((l) => l.device === `/dev/${name}`)
      const info = mergeInfo(await readBlockInfo(name, paths), lay, block)
      const device: StorageDevice = {
        name: name.slice(0, 64),
        class: classifyStorage(info),
        sizeGB: Math.round((size / 1e9) * 10) / 10,
        model: (lay?.name || block?.model || '').trim().slice(0, 128),
      }
      return { info, device }
    }),
  )
}

// lsblk's transport beats our guess from the sysfs path; sysfs beats lsblk for the rest.
function mergeInfo(
  sys: BlockDeviceInfo,
  lay: Systeminformation.DiskLayoutData | undefined,
  block: Systeminformation.BlockDevicesData | undefined,
): BlockDeviceInfo {
  const info: BlockDeviceInfo = { ...sys }
  const transport = lay?.interfaceType || block?.protocol
  if (transport) info.interfaceType = transport
  const medium = lay?.type || block?.physical
  if (medium) info.type = medium
  if (info.removable === undefined && block) info.removable = block.removable
  return info
}

// Used when lsblk is missing: /sys/block still lists every disk and its size.
async function sysfsDisks(
  paths: SysPaths,
): Promise<{ name: string; size: number; block: Systeminformation.BlockDevicesData | undefined }[]> {
  const names = await readdir(`${paths.sys}/block`).catch(() => [] as string[])
  const disks = await Promise.all(
    names
      .filter((n) => !NOT_A_DISK.test(n))
      .map(async (name) => {
        const sectors = Number(
          (await readFile(`${paths.sys}/block/${name}/size`, 'utf8').catch(() => '0')).trim(),
        )
        return { name, size: Number.isFinite(sectors) ? sectors * 512 : 0, block: undefined }
      }),
  )
  return disks.filter((d) => d.size > 0)
}

async function dataClass(dataDir: string, disks: readonly Disk[], paths: SysPaths): Promise<StorageClass> {
  const name = await diskHoldingPath(dataDir, paths)
  if (!name) return 'unknown'
  const known = disks.find((d) => d.info.name === name)
  if (known) return known.device.class
  return classifyStorage(await readBlockInfo(name, paths))
}

async function guarded<T>(
  what: string,
  fn: () => Promise<T>,
  fallback: T,
  clock: Clock,
  timeoutMs: number,
  log: Logger | undefined,
): Promise<T> {
  let timer: { cancel(): void } | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([fn(), timeout])
  } catch (err) {
    log?.warn({ err, what }, 'machine fact unavailable; using default')
    return fallback
  } finally {
    timer?.cancel()
  }
}

function positiveInt(n: number | undefined): number | undefined {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined
}
