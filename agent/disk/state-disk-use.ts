import { HomecloudError } from '../core/errors.js'
import { STATE_LABEL } from '../slots/disk-layout.js'
import { type BlockDevice, LsblkReport, type StateDiskPolicy } from './state-disk.js'

// The pure pieces around chooseStateDisk that a netbooted machine's /init needs to use its
// choice (issue 15): reading lsblk's answer, naming the partition an adopted disk gets,
// what sfdisk is told, whether a mounted state filesystem may be used, and the one line
// the console and the status page show. The shell is state-disk-prepare.ts.

/** lsblk's JSON for a machine's disks is a few KiB; anything far bigger is not lsblk. */
export const lsblkReportBytesMax = 1024 * 1024
/** Below this much free space the agent and etcd cannot keep their state: the node boots RAM-only. */
export const stateFreeMiBMin = 64

export const STATE_DISK_POLICIES = [
  'labelled-only',
  'adopt-empty',
] as const satisfies readonly StateDiskPolicy[]

/** The policy a kernel command line names; absent or empty is the default, labelled-only. */
export function stateDiskPolicy(word: string | undefined): StateDiskPolicy {
  if (word === undefined || word === '') return 'labelled-only'
  if ((STATE_DISK_POLICIES as readonly string[]).includes(word)) return word as StateDiskPolicy
  throw new HomecloudError(
    'STATE_DISK_FAILED',
    `state disk policy "${word.slice(0, 40)}" is not one of ${STATE_DISK_POLICIES.join(', ')}`,
    'the serving node writes homecloud.statedisk= from the cluster setting; fix the setting',
  )
}

/** lsblk -J output → its block devices; anything else is a clear STATE_DISK_FAILED. */
export function parseLsblk(text: string): BlockDevice[] {
  const bad = (why: string) =>
    new HomecloudError(
      'STATE_DISK_FAILED',
      `lsblk's report is not usable: ${why}`,
      'the image carries util-linux lsblk with JSON output (-J); without a report no disk is used',
    )
  if (Buffer.byteLength(text) > lsblkReportBytesMax) throw bad(`it is over ${lsblkReportBytesMax} bytes`)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message.slice(0, 120)})`)
  }
  const r = LsblkReport.safeParse(json)
  if (!r.success) {
    const i = r.error.issues[0]
    throw bad(`${i?.path.join('.') || 'the report'}: ${i?.message ?? 'malformed'}`)
  }
  return r.data.blockdevices
}

/** What `blkid -p -o export DEV` found on a device (KEY=VALUE lines); nulls when nothing. */
export interface Probed {
  fstype: string | null
  label: string | null
  pttype: string | null
}

/**
 * blkid's low-level probe, parsed. lsblk reads filesystem types and labels from udev's
 * database, which a netbooted initramfs does not have: without this every disk would look
 * empty, and one holding data could be taken for blank.
 */
export function parseBlkidExport(text: string): Probed {
  const kv = new Map<string, string>()
  for (const line of text.split('\n').slice(0, 64)) {
    const m = /^([A-Z_]{1,32})=(.{0,256})$/.exec(line.trim())
    if (m) kv.set(m[1]!, m[2]!)
  }
  return { fstype: kv.get('TYPE') ?? null, label: kv.get('LABEL') ?? null, pttype: kv.get('PTTYPE') ?? null }
}

/** The report with each device's probe filled in where lsblk knew nothing. */
export function withProbes(
  devices: readonly BlockDevice[],
  probes: ReadonlyMap<string, Probed>,
): BlockDevice[] {
  return devices.map((d) => {
    const p = probes.get(d.path)
    const children = d.children ? { children: withProbes(d.children, probes) } : {}
    return {
      ...d,
      fstype: d.fstype ?? p?.fstype ?? null,
      label: d.label ?? p?.label ?? null,
      pttype: d.pttype ?? p?.pttype ?? null,
      ...children,
    }
  })
}

/** The first partition of a whole disk: vdb → vdb1; nvme0n1, mmcblk0 → …p1 (names ending in a digit). */
export function firstPartition(disk: string): string {
  return /\d$/.test(disk) ? `${disk}p1` : `${disk}1`
}

/** sfdisk's input for an adopted disk: a GPT with one Linux filesystem partition over all of it. */
export const ADOPT_SFDISK_SCRIPT = 'label: gpt\n,,L\n'

/** mke2fs's arguments for the state filesystem on `partition`. */
export function mkfsArgs(partition: string): string[] {
  return ['-q', '-F', '-t', 'ext4', '-L', STATE_LABEL, partition]
}

export interface MountedState {
  path: string
  freeBytes: number
  /** The cluster id in the state's cluster.json, null when it holds none yet. */
  clusterOnDisk: string | null
  /** The cluster this boot is for (the kernel command line). */
  clusterId: string
}

/** Why a mounted state filesystem may not be used, or null when it may. */
export function mountedStateProblem(m: MountedState): string | null {
  const freeMiB = Math.floor(m.freeBytes / (1024 * 1024))
  if (freeMiB < stateFreeMiBMin)
    return `${m.path} is full (${freeMiB} MiB free, the agent and etcd need at least ${stateFreeMiBMin} MiB): free space on it or label a bigger disk ${STATE_LABEL}`
  if (m.clusterOnDisk !== null && m.clusterOnDisk !== m.clusterId)
    return `${m.path} holds the state of cluster ${m.clusterOnDisk}, this machine is netbooted into ${m.clusterId}: it is left as it is`
  return null
}

export type StateDiskOutcome =
  | { kind: 'disk'; path: string; how: 'labelled' | 'adopted'; freeBytes: number; member: boolean }
  | { kind: 'ram-only'; why: string[] }

/** The agent's config and facts carry the line; a machine with many disks gets it cut. */
export const stateDiskLineMax = 400

/**
 * The one line the console, the agent's facts and the status page show. /init writes it
 * into a JSON config from a shell: quotes, backslashes and control characters (a tool's
 * stderr) become spaces.
 */
export function stateDiskLine(o: StateDiskOutcome): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f"\\]+/g, ' ')
  if (o.kind === 'ram-only') {
    const line = clean(`in RAM (lost at power-off; never an etcd seat): ${o.why.join('; ')}`)
    return line.length > stateDiskLineMax ? `${line.slice(0, stateDiskLineMax - 1)}…` : line
  }
  const free = Math.floor(o.freeBytes / (1024 * 1024))
  const how = o.how === 'adopted' ? `adopted, made ${STATE_LABEL}` : `labelled ${STATE_LABEL}`
  return (
    clean(`on ${o.path} (${how}, ${free} MiB free)`) +
    `${o.member ? '; this node was here before: same key, certificate and name' : ''}`
  )
}
