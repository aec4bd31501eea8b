import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { STATE_LABEL, stateMiBMin } from '../slots/disk-layout.js'

// Which local disk holds a node's state (identity, certificates, etcd data), decided from
// what `lsblk -J -b -o NAME,PATH,SIZE,TYPE,RM,RO,FSTYPE,LABEL,PTTYPE,MOUNTPOINT` reports
// (pure; issue 15). A filesystem labelled homecloud-state is used wherever it is; without
// one, a disk is adopted (partitioned and formatted) only if the policy allows it and the
// disk is empty — no partition table, no filesystem, not mounted, not the boot disk. A
// disk that holds anything is never written. No disk: the node stays a RAM-only worker,
// which placement never gives an etcd seat.

export const LSBLK_COLUMNS = 'NAME,PATH,SIZE,TYPE,RM,RO,FSTYPE,LABEL,PTTYPE,MOUNTPOINT'

/** lsblk prints booleans and sizes as strings in older versions ("1", "512"). */
const flag = z.union([z.boolean(), z.enum(['0', '1']).transform((v) => v === '1')])
const bytes = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)])

export interface BlockDevice {
  name: string
  path: string
  size: number
  type: string
  rm: boolean
  ro: boolean
  fstype: string | null
  label: string | null
  pttype: string | null
  mountpoint: string | null
  children?: BlockDevice[]
}

const BlockDeviceSchema: z.ZodType<BlockDevice, unknown> = z.lazy(() =>
  z.object({
    name: z.string().max(128),
    path: z.string().max(256),
    size: bytes,
    type: z.string().max(32),
    rm: flag,
    ro: flag,
    fstype: z.string().max(64).nullable(),
    label: z.string().max(256).nullable(),
    pttype: z.string().max(32).nullable(),
    mountpoint: z.string().max(4096).nullable(),
    children: z.array(BlockDeviceSchema).max(128).optional(),
  }),
)
export const LsblkReport = z.object({ blockdevices: z.array(BlockDeviceSchema).max(256) })

export type StateDiskPolicy = 'labelled-only' | 'adopt-empty'

export type StateDiskChoice =
  /** Mount this filesystem (ext4, labelled homecloud-state). */
  | { kind: 'labelled'; path: string }
  /** Partition this empty disk and make the state filesystem on it. */
  | { kind: 'adopt'; disk: string; why: string[] }
  /** No disk may hold state: stay a RAM-only worker. */
  | { kind: 'ram-only'; why: string[] }
  /** Something is wrong that a person must settle (two labelled disks, a read-only one). */
  | { kind: 'refused'; why: string }

function flatten(ds: readonly BlockDevice[]): BlockDevice[] {
  return ds.flatMap((d) => [d, ...flatten(d.children ?? [])])
}

/** Why a whole disk may not be adopted, or null when it is empty and usable. */
function notAdoptable(d: BlockDevice, bootDisk: string | null): string | null {
  if (d.type !== 'disk' || d.name.startsWith('zram'))
    return `${d.path} is a ${d.name.startsWith('zram') ? 'RAM disk' : d.type}`
  if (d.path === bootDisk) return `${d.path} is the disk this machine booted from`
  if (d.ro) return `${d.path} is read-only`
  if (d.size < stateMiBMin * 1024 * 1024) return `${d.path} is smaller than ${stateMiBMin} MiB`
  const used = flatten([d]).find((x) => x.mountpoint || x.fstype || x.pttype || x !== d)
  if (used)
    return `${d.path} holds data (${used.mountpoint ? `mounted at ${used.mountpoint}` : (used.fstype ?? used.pttype ?? used.path)})`
  return null
}

export function chooseStateDisk(
  devices: readonly BlockDevice[],
  policy: StateDiskPolicy,
  bootDisk: string | null,
): StateDiskChoice {
  const labelled = flatten(devices).filter((d) => d.label === STATE_LABEL)
  if (labelled.length > 1)
    return {
      kind: 'refused',
      why: `${labelled.map((d) => d.path).join(' and ')} are all labelled ${STATE_LABEL}`,
    }
  const [own] = labelled
  if (own) {
    if (own.fstype !== 'ext4')
      return {
        kind: 'refused',
        why: `${own.path} is labelled ${STATE_LABEL} but holds ${own.fstype ?? 'no filesystem'}, not ext4`,
      }
    if (own.ro) return { kind: 'refused', why: `${own.path} (${STATE_LABEL}) is read-only` }
    return { kind: 'labelled', path: own.path }
  }
  const why: string[] = []
  const empty: BlockDevice[] = []
  for (const d of [...devices].sort((x, y) => x.path.localeCompare(y.path))) {
    const no = notAdoptable(d, bootDisk)
    if (no) why.push(no)
    else empty.push(d)
  }
  const [first, ...others] = empty
  if (!first) return { kind: 'ram-only', why: why.length ? why : ['no disks'] }
  if (policy === 'labelled-only')
    return {
      kind: 'ram-only',
      why: [...why, `${first.path} is empty, but the policy adopts no disk (allow adopt-empty to use it)`],
    }
  return {
    kind: 'adopt',
    disk: first.path,
    why: others.map((d) => `${d.path} is empty too; ${first.path} comes first`),
  }
}

/** The choice, or STATE_DISK_REFUSED when a person must settle it (or a disk is required and none may be used). */
export function stateDiskOrThrow(
  choice: StateDiskChoice,
  required: boolean,
): Exclude<StateDiskChoice, { kind: 'refused' }> {
  if (choice.kind === 'refused')
    throw new HomecloudError(
      'STATE_DISK_REFUSED',
      choice.why,
      `relabel or remove all but one ${STATE_LABEL} filesystem`,
    )
  if (choice.kind === 'ram-only' && required)
    throw new HomecloudError(
      'STATE_DISK_REFUSED',
      `no disk may hold this node's state: ${choice.why.join('; ')}`,
      `attach an empty disk and allow adopt-empty, or label an ext4 filesystem ${STATE_LABEL}`,
    )
  return choice
}
