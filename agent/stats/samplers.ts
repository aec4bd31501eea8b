import { readFile } from 'node:fs/promises'
import si from 'systeminformation'
import type { Clock } from '../core/clock.js'
import { clockTicksPerSec, pageBytes, processTree, readAllProcStats, treeBytes } from './proc.js'
import type { MachineSample, StatsSource } from './schema.js'

// Where a node's numbers come from. On real hardware: systeminformation (CPU load,
// memory, the data disk's file system, the thermal sensor) and the Raspberry Pi
// firmware's throttling flags. In the lab every agent shares one host, whose numbers
// would be the same on every "board": a lab node reports its own processes instead
// (the agent and what it started: etcd, the Kubernetes programs, kwok), measured against
// the board profile's cores, memory and disk. Real numbers, of a simulated board.

export interface Sampler {
  readonly source: StatsSource
  sample(): Promise<MachineSample>
}

/** Raspberry Pi firmware: bit 0 under-voltage, 1 frequency capped, 2 throttled, 3 soft temperature limit (now). */
export const PI_THROTTLED_PATH = '/sys/devices/platform/soc/soc:firmware/get_throttled'

export function parseThrottled(text: string): boolean | null {
  const v = Number.parseInt(text.trim(), 16)
  return Number.isFinite(v) ? (v & 0xf) !== 0 : null
}

const round1 = (n: number) => Math.round(n * 10) / 10
const clampPct = (n: number) => Math.max(0, Math.min(100, round1(n)))

export function machineSampler(init: { dataDir: string; clock: Pick<Clock, 'nowMs'> }): Sampler {
  return {
    source: 'machine',
    async sample() {
      const [load, mem, fs, temp, throttled] = await Promise.all([
        si.currentLoad().catch(() => null),
        si.mem().catch(() => null),
        si.fsSize().catch(() => []),
        si.cpuTemperature().catch(() => null),
        readFile(PI_THROTTLED_PATH, 'utf8').then(parseThrottled, () => null),
      ])
      // The file system holding the data directory: the longest mount point that prefixes it.
      const disk = fs
        .filter(
          (f) =>
            init.dataDir === f.mount ||
            init.dataDir.startsWith(f.mount.endsWith('/') ? f.mount : `${f.mount}/`),
        )
        .sort((a, b) => b.mount.length - a.mount.length)[0]
      const t = temp?.main
      return {
        atMs: init.clock.nowMs(),
        cpuPct: clampPct(load?.currentLoad ?? 0),
        memUsedMB: Math.round((mem?.active ?? 0) / 2 ** 20),
        memTotalMB: Math.round((mem?.total ?? 0) / 2 ** 20),
        diskUsedPct: disk && Number.isFinite(disk.use) ? clampPct(disk.use) : null,
        tempC: typeof t === 'number' && Number.isFinite(t) && t > -60 ? round1(t) : null,
        throttled,
      }
    },
  }
}

export interface LabBoard {
  cores: number
  memoryMB: number
  /** The data disk's size in the profile; 0 when it names none. */
  diskGB: number
}

/** A lab node's state directory is walked once every this many readings (a minute at 15 s). */
export const diskWalkEverySamples = 4

export function labSampler(init: {
  rootPid: number
  stateDir: string
  board: LabBoard
  clock: Pick<Clock, 'nowMs' | 'monoMs'>
}): Sampler {
  let prev: { ticks: number; atMono: number } | null = null
  let diskBytes = 0
  let samples = 0
  return {
    source: 'lab',
    async sample() {
      const tree = processTree(await readAllProcStats(), init.rootPid)
      const ticks = tree.reduce((a, p) => a + p.ticks, 0)
      const rssBytes = tree.reduce((a, p) => a + p.rssPages * pageBytes, 0)
      const atMono = init.clock.monoMs()
      const elapsedS = prev ? (atMono - prev.atMono) / 1000 : 0
      const cpuS = prev ? Math.max(0, ticks - prev.ticks) / clockTicksPerSec : 0
      prev = { ticks, atMono }
      // Walking the state directory costs more than the rest: once every few readings is enough.
      if (init.board.diskGB > 0 && samples++ % diskWalkEverySamples === 0)
        diskBytes = await treeBytes(init.stateDir)
      return {
        atMs: init.clock.nowMs(),
        cpuPct: elapsedS > 0 ? clampPct((100 * cpuS) / (elapsedS * init.board.cores)) : 0,
        memUsedMB: Math.round(rssBytes / 2 ** 20),
        memTotalMB: init.board.memoryMB,
        diskUsedPct: init.board.diskGB > 0 ? clampPct((100 * diskBytes) / (init.board.diskGB * 1e9)) : null,
        tempC: null,
        throttled: null,
      }
    },
  }
}
