import { access, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { type Clock, sleep } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import { readClusterFile } from '../state/cluster-file.js'
import { type BlockDevice, chooseStateDisk, LSBLK_COLUMNS, type StateDiskPolicy } from './state-disk.js'
import {
  ADOPT_SFDISK_SCRIPT,
  firstPartition,
  mkfsArgs,
  mountedStateProblem,
  type Probed,
  parseBlkidExport,
  parseLsblk,
  type StateDiskOutcome,
  withProbes,
} from './state-disk-use.js'

// At netboot, before the agent starts (/init runs `homecloud state-disk`): lsblk, the pure
// choice (state-disk.ts), then the few writes it allows — partition and format an empty
// disk under adopt-empty, mount the state filesystem on the state directory — and the
// checks after mounting (full, another cluster's). Anything that fails leaves the machine
// RAM-only with the reason; a disk holding data is never written (chooseStateDisk).

export type Exec = (
  cmd: string,
  args: string[],
  input?: string,
) => Promise<{ exitCode: number; stdout: string; stderr: string }>

/** Each tool gets this long; mkfs of a big disk is the slowest (lazy init keeps it short). */
const toolTimeoutMs = 120_000
/** How long the kernel may take to show the new partition's device node. */
const partitionWaitMs = 10_000

export const execTool: Exec = async (cmd, args, input) => {
  const r = await execa(cmd, args, {
    reject: false,
    timeout: toolTimeoutMs,
    ...(input === undefined ? {} : { input }),
  })
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
}

export interface PrepareInput {
  stateDir: string
  policy: StateDiskPolicy
  /** The cluster this boot is for: a state disk of another cluster is left alone. */
  clusterId: string
  exec?: Exec
  /** Whether a device node exists yet (default: the filesystem's answer). */
  exists?: (path: string) => Promise<boolean>
  clock: Clock
  /** Progress for the console. */
  say: (line: string) => void
}

const failed = (message: string, hint: string) => new HomecloudError('STATE_DISK_FAILED', message, hint)

async function tool(exec: Exec, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await exec(cmd, args, input)
  if (r.exitCode !== 0)
    throw failed(
      `${cmd} ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`,
      'the machine boots RAM-only; check the disk (dmesg), or label a filesystem homecloud-state by hand',
    )
  return r.stdout
}

/** Partitions and formats an empty disk; returns the new state filesystem's device. */
async function adopt(disk: string, i: PrepareInput, exec: Exec): Promise<string> {
  i.say(`adopting the empty disk ${disk}: one GPT partition, ext4 labelled homecloud-state`)
  await tool(exec, 'sfdisk', ['--quiet', '--wipe', 'always', disk], ADOPT_SFDISK_SCRIPT)
  const part = firstPartition(disk)
  const deadline = i.clock.nowMs() + partitionWaitMs
  const exists =
    i.exists ??
    ((p: string) =>
      access(p).then(
        () => true,
        () => false,
      ))
  while (!(await exists(part))) {
    if (i.clock.nowMs() > deadline)
      throw failed(
        `${part} did not appear after partitioning ${disk}`,
        'the kernel did not re-read the partition table: reboot',
      )
    await sleep(i.clock, 200)
  }
  await tool(exec, 'mke2fs', mkfsArgs(part))
  return part
}

/** Mounts `path` on the state directory and checks it; unmounts again when it may not be used. */
async function mountAndCheck(
  path: string,
  i: PrepareInput,
  exec: Exec,
): Promise<{ freeBytes: number; member: boolean }> {
  await tool(exec, 'mount', ['-t', 'ext4', '-o', 'noatime', path, i.stateDir])
  try {
    const s = await statfs(i.stateDir)
    const cluster = await readClusterFile(join(i.stateDir, 'cluster.json')).catch(() => null)
    const freeBytes = s.bavail * s.bsize
    const problem = mountedStateProblem({
      path,
      freeBytes,
      clusterOnDisk: cluster?.id ?? null,
      clusterId: i.clusterId,
    })
    if (problem) throw failed(problem, 'the machine boots RAM-only until a person settles it')
    const member = await access(join(i.stateDir, 'pki', 'node.crt')).then(
      () => true,
      () => false,
    )
    return { freeBytes, member }
  } catch (err) {
    await exec('umount', [i.stateDir]).catch(() => undefined)
    throw err
  }
}

/** Every disk and partition probed by blkid (exit 2: nothing on it; anything else a failure). */
async function probeAll(devices: readonly BlockDevice[], exec: Exec): Promise<BlockDevice[]> {
  const all = (ds: readonly BlockDevice[]): BlockDevice[] => ds.flatMap((d) => [d, ...all(d.children ?? [])])
  const probes = new Map<string, Probed>()
  for (const d of all(devices)) {
    if (d.type !== 'disk' && d.type !== 'part') continue
    const r = await exec('blkid', ['-p', '-o', 'export', d.path])
    if (r.exitCode === 0) probes.set(d.path, parseBlkidExport(r.stdout))
    else if (r.exitCode !== 2)
      throw failed(
        `blkid -p ${d.path} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-300)}`,
        'without knowing what a disk holds none is used: check the disk (dmesg)',
      )
  }
  return withProbes(devices, probes)
}

/** Chooses, adopts if allowed, mounts; never throws: a failure is a RAM-only outcome with its reason. */
export async function prepareStateDisk(i: PrepareInput): Promise<StateDiskOutcome> {
  const exec = i.exec ?? execTool
  try {
    const listed = parseLsblk(await tool(exec, 'lsblk', ['-J', '-b', '-o', LSBLK_COLUMNS]))
    const devices = await probeAll(listed, exec)
    const choice = chooseStateDisk(devices, i.policy, null)
    if (choice.kind === 'refused') return { kind: 'ram-only', why: [`refused: ${choice.why}`] }
    if (choice.kind === 'ram-only') return { kind: 'ram-only', why: choice.why }
    const path = choice.kind === 'adopt' ? await adopt(choice.disk, i, exec) : choice.path
    const { freeBytes, member } = await mountAndCheck(path, i, exec)
    return { kind: 'disk', path, how: choice.kind === 'adopt' ? 'adopted' : 'labelled', freeBytes, member }
  } catch (err) {
    if (err instanceof HomecloudError) return { kind: 'ram-only', why: [err.message] }
    return { kind: 'ram-only', why: [`unexpected: ${(err as Error).message}`] }
  }
}
