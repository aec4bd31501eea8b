import { access, readdir, readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, resolve, sep } from 'node:path'
import type { BlockDeviceInfo } from './storage-class.js'

// Linux sysfs lookups: which whole disk holds a path, and what the kernel says
// about a disk. Everything is best effort: a missing file means "not known".

export interface SysPaths {
  /** Root of sysfs; tests point it at a fake tree. */
  sys: string
  mountinfo: string
}

export const LINUX_PATHS: SysPaths = { sys: '/sys', mountinfo: '/proc/self/mountinfo' }

const stackDepthMax = 4

/** Kernel name of the whole disk that holds `path` (e.g. 'nvme0n1'), or null. */
export async function diskHoldingPath(path: string, paths: SysPaths = LINUX_PATHS): Promise<string | null> {
  const existing = await nearestExisting(resolve(path))
  if (!existing) return null
  const byDev = await diskFromDevNumber(existing, paths)
  if (byDev) return byDev
  // btrfs, overlay and friends report an anonymous device number; the mount
  // table still names the real source.
  const mountinfo = await readFile(paths.mountinfo, 'utf8').catch(() => '')
  const source = mountSourceFor(mountinfo, existing)
  if (!source?.startsWith('/dev/')) return null
  const dev = await realpath(source).catch(() => null)
  if (!dev) return null
  return wholeDisk(`${paths.sys}/class/block/${basename(dev)}`, paths, 0)
}

/** What sysfs says about a disk; fields it does not answer stay undefined. */
export async function readBlockInfo(name: string, paths: SysPaths = LINUX_PATHS): Promise<BlockDeviceInfo> {
  const base = `${paths.sys}/block/${name}`
  const info: BlockDeviceInfo = { name }
  const rotational = await readTrim(`${base}/queue/rotational`)
  if (rotational === '0' || rotational === '1') info.rotational = rotational === '1'
  const removable = await readTrim(`${base}/removable`)
  if (removable === '0' || removable === '1') info.removable = removable === '1'
  if (name.startsWith('mmcblk')) {
    const mmcType = await readTrim(`${base}/device/type`)
    if (mmcType) info.mmcType = mmcType
  }
  const transport = transportFromSysPath((await realpath(base).catch(() => '')) || '')
  if (transport) info.interfaceType = transport
  return info
}

/** Guesses the transport from where the disk sits in the device tree. */
export function transportFromSysPath(devicePath: string): string | undefined {
  if (devicePath.includes('/usb')) return 'usb'
  if (devicePath.includes('/nvme')) return 'nvme'
  if (devicePath.includes('/mmc_host/')) return 'mmc'
  if (devicePath.includes('/virtio')) return 'virtio'
  if (/\/ata\d+\//.test(devicePath)) return 'sata'
  return undefined
}

/**
 * The mount source (e.g. '/dev/sda2') of the longest mount point containing
 * `path`, from /proc/self/mountinfo text; null when none matches.
 */
export function mountSourceFor(mountinfo: string, path: string): string | null {
  let best: { mount: string; source: string } | null = null
  for (const line of mountinfo.split('\n')) {
    const sepAt = line.indexOf(' - ')
    if (sepAt < 0) continue
    const fields = line.slice(0, sepAt).split(' ')
    const tail = line.slice(sepAt + 3).split(' ')
    const mount = unescapeMount(fields[4] ?? '')
    const source = unescapeMount(tail[1] ?? '')
    if (!mount || !source || !isWithin(path, mount)) continue
    // Later lines overmount earlier ones at the same point, so ties go to the last.
    if (!best || mount.length >= best.mount.length) best = { mount, source }
  }
  return best?.source ?? null
}

function isWithin(path: string, mount: string): boolean {
  if (mount === '/') return path.startsWith('/')
  return path === mount || path.startsWith(mount.endsWith(sep) ? mount : mount + sep)
}

// mountinfo escapes space, tab, newline and backslash as octal.
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

async function diskFromDevNumber(path: string, paths: SysPaths): Promise<string | null> {
  const st = await stat(path, { bigint: true }).catch(() => null)
  if (!st) return null
  const { major, minor } = splitDev(st.dev)
  if (major === 0) return null
  return wholeDisk(`${paths.sys}/dev/block/${major}:${minor}`, paths, 0)
}

/** Linux dev_t layout (glibc gnu_dev_major/minor). */
export function splitDev(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn))
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn))
  return { major, minor }
}

// Walks from any block device (partition, dm/md volume) down to a physical disk.
async function wholeDisk(sysLink: string, paths: SysPaths, depth: number): Promise<string | null> {
  if (depth > stackDepthMax) return null
  const real = await realpath(sysLink).catch(() => null)
  if (!real) return null
  const isPartition = await exists(`${real}/partition`)
  const disk = isPartition ? basename(dirname(real)) : basename(real)
  if (/^(dm-|md)/.test(disk)) {
    const slaves = await readdir(`${paths.sys}/block/${disk}/slaves`).catch(() => [] as string[])
    const first = slaves.sort()[0]
    return first ? wholeDisk(`${paths.sys}/class/block/${first}`, paths, depth + 1) : null
  }
  return disk
}

async function nearestExisting(path: string): Promise<string | null> {
  for (let p = path; ; p = dirname(p)) {
    if (await exists(p)) return realpath(p).catch(() => null)
    if (dirname(p) === p) return null
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

async function readTrim(path: string): Promise<string | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined)
  return text?.replace(/\0/g, '').trim() || undefined
}
