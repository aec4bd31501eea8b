import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sleep, systemClock } from '../agent/core/clock.js'
import { packageRoot } from '../agent/core/package-root.js'

const labClock = systemClock({ keepAlive: true })

/**
 * V8 flags for agents: a small young generation trades a little GC time for tens of
 * MB of RSS, which matters on a 1 GB board (and with 20 agents on one laptop).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256']

/**
 * glibc gives every thread that allocates its own malloc arena; the agent's helper
 * threads (libuv pool, V8 workers: sodium, udx, crypto) left ~10 MB of fragmented
 * arenas per agent (20-agent lab: 98 → 88 MB RSS measured with two arenas).
 * A production service unit should set the same.
 */
export const AGENT_ENV = { MALLOC_ARENA_MAX: '2' }

/** Every lab agent carries this variable, so its processes can be found after any crash. */
export const LAB_ENV = 'HOMECLOUD_LAB_DIR'

export interface SpawnAgentInit {
  labDir: string
  stateDir: string
  configPath: string
  logPath: string
  /** Run inside this network namespace (netns labs). */
  netns?: string
  /**
   * Enter only the namespace's network (nsenter) instead of `ip netns exec`, which also
   * remounts /sys for the namespace and so hides the cgroup mounts a kubelet needs.
   */
  netOnly?: boolean
}

/** Starts one agent as its own process group, detached from the launcher. */
export function spawnAgent(init: SpawnAgentInit & { slotsDir?: string }): number {
  const bin = join(packageRoot(), 'bin', 'homecloud.js')
  // A slotted node: the lab's firmware (lab/firmware.ts) boots the agent from a slot's bundle.
  const args = init.slotsDir
    ? [
        bin,
        'lab',
        'firmware',
        '--slots',
        init.slotsDir,
        '--state',
        init.stateDir,
        '--config',
        init.configPath,
        '--log',
        init.logPath,
      ]
    : [...AGENT_NODE_FLAGS, bin, 'agent', '--state', init.stateDir, '--config', init.configPath]
  const [cmd, argv] = !init.netns
    ? [process.execPath, args]
    : init.netOnly
      ? ['nsenter', [`--net=/run/netns/${init.netns}`, process.execPath, ...args]]
      : ['ip', ['netns', 'exec', init.netns, process.execPath, ...args]]
  const out = openSync(init.logPath, 'a')
  try {
    const child = spawn(cmd, argv as string[], {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, ...AGENT_ENV, [LAB_ENV]: init.labDir },
    })
    child.unref()
    if (!child.pid) throw new Error(`could not start ${cmd}`)
    return child.pid
  } finally {
    closeSync(out)
  }
}

/** Starts any other lab process (router dnsmasq, qemu) the same way: own group, marked, log file. */
export function spawnLabProcess(labDir: string, cmd: string, args: string[], logPath: string): number {
  const out = openSync(logPath, 'a')
  try {
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, [LAB_ENV]: labDir },
    })
    child.unref()
    if (!child.pid) throw new Error(`could not start ${cmd}`)
    return child.pid
  } finally {
    closeSync(out)
  }
}

/** Is `pid` alive and one of this lab's agents (pids get reused)? */
export async function isLabProcess(pid: number, labDir: string): Promise<boolean> {
  try {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8')
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    if (stat.split(') ')[1]?.startsWith('Z')) return false
    return env.split('\0').includes(`${LAB_ENV}=${labDir}`)
  } catch {
    return false
  }
}

/**
 * Has this process ended (gone, or a zombie)? Unlike isLabProcess it does not look at the
 * environment: a child caught between fork and exec still shows its parent's, which would
 * read as "not ours" for a moment right after the spawn.
 */
export async function processEnded(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.split(') ')[1]?.startsWith('Z') ?? true
  } catch {
    return true
  }
}

/** All live processes of a lab, found by their environment rather than by remembered pids. */
export async function findLabProcesses(labDir: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number)
  const mine: number[] = []
  for (const pid of pids) if (pid !== process.pid && (await isLabProcess(pid, labDir))) mine.push(pid)
  return mine
}

/** Unplugging: SIGKILL, no warning, exactly like pulling the power cable. */
export async function killHard(pid: number, labDir: string): Promise<boolean> {
  if (!(await isLabProcess(pid, labDir))) return false
  try {
    // The whole process group: an agent's etcd dies with it, as on a board losing power.
    process.kill(-pid, 'SIGKILL')
  } catch {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      return false
    }
  }
  for (let i = 0; i < 100 && (await isLabProcess(pid, labDir)); i++) await sleep(labClock, 20)
  return true
}
