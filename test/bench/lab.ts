// Lab plumbing for benchmarks: labs that always get torn down, 50 ms polling of the
// cluster API, and what /proc and the agent logs say about each agent.
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClusterView } from '../../agent/api/cluster-schema.js'
import type { LabFile } from '../../lab/lab-file.js'
import { type LabUpOptions, labRemoveDir, labUp, nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView } from '../../lab/wait.js'
import type { BenchContext } from './types.js'

const PROGRESS_CHARS_MAX = 160

export interface BenchLab {
  dir: string
  lab: LabFile
  /** labUp's duration: spawning every agent plus waiting for full convergence. */
  upMs: number
  close(): Promise<void>
}

/** A lab in a fresh temp dir, removed by close(), at the end of the run, or on SIGINT. */
export async function benchLab(
  ctx: BenchContext,
  label: string,
  opts: Omit<LabUpOptions, 'dir'>,
  /** Told the lab directory before labUp starts (to watch the agents while it waits). */
  onDir?: (dir: string) => void,
): Promise<BenchLab> {
  const dir = await mkdtemp(join(tmpdir(), `hc-bench-${label}-`))
  onDir?.(dir)
  const unregister = ctx.onCleanup(() => labRemoveDir(dir))
  const close = async () => {
    unregister()
    await labRemoveDir(dir).catch((err) =>
      ctx.progress(`could not remove lab ${dir}: ${(err as Error).message}`),
    )
  }
  const progress = (line: string) =>
    ctx.progress(
      `${label}: ${line.length > PROGRESS_CHARS_MAX ? `${line.slice(0, PROGRESS_CHARS_MAX)}…` : line}`,
    )
  const start = Date.now()
  try {
    const lab = await labUp({ timeoutMs: 300_000, ...opts, dir, progress })
    return { dir, lab, upMs: Date.now() - start, close }
  } catch (err) {
    await close()
    throw err
  }
}

export interface Target {
  name: string
  address: string
}

export type Conditions = Record<string, (v: ClusterView) => boolean>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Polls every target's /api/v1/cluster every `intervalMs` (each target on its own
 * loop, so one slow node does not delay the others) and returns, per target and
 * condition, the wall time of the first response that satisfied it (null: timed out).
 */
export async function firstTimes(
  targets: Target[],
  conds: Conditions,
  opts: { intervalMs?: number; timeoutMs: number },
): Promise<Map<string, Record<string, number | null>>> {
  const interval = opts.intervalMs ?? 50
  const deadline = Date.now() + opts.timeoutMs
  const out = new Map<string, Record<string, number | null>>()
  await Promise.all(
    targets.map(async (t) => {
      const got: Record<string, number | null> = Object.fromEntries(Object.keys(conds).map((k) => [k, null]))
      out.set(t.name, got)
      const url = nodeUrl(t)
      while (Object.values(got).some((v) => v === null) && Date.now() < deadline) {
        const started = Date.now()
        const v = await fetchClusterView(url, 1000)
        const at = Date.now()
        if (v) for (const [k, cond] of Object.entries(conds)) if (got[k] === null && cond(v)) got[k] = at
        await sleep(Math.max(0, interval - (Date.now() - started)))
      }
    }),
  )
  return out
}

/** The latest time over all targets for one condition; null if any target never got there. */
export function lastOf(times: Map<string, Record<string, number | null>>, cond: string): number | null {
  let last = 0
  for (const t of times.values()) {
    const v = t[cond]
    if (v === null || v === undefined) return null
    last = Math.max(last, v)
  }
  return last
}

export function stateOf(v: ClusterView, name: string): string | undefined {
  return v.members.find((m) => m.name === name)?.state
}

export function aliveCount(v: ClusterView): number {
  return v.members.filter((m) => m.state === 'alive').length
}

export async function views(targets: Target[]): Promise<Map<string, ClusterView | null>> {
  const entries = await Promise.all(
    targets.map(async (t) => [t.name, await fetchClusterView(nodeUrl(t), 5000)] as const),
  )
  return new Map(entries)
}

export { sleep }

// ---- /proc -------------------------------------------------------------------

const CLK_TCK = 100 // USER_HZ on Linux (getconf CLK_TCK)

export interface MemStatus {
  rssKB: number
  anonKB: number
  fileKB: number
  shmemKB: number
  threads: number
}

/** Proportional set size: shared pages (the node binary, libraries) split among the processes mapping them. */
export async function pssKB(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null)
  const m = text && /^Pss:\s+(\d+)/m.exec(text)
  return m ? Number(m[1]) : null
}

/** Busy and total CPU time of the whole machine, in ticks, from /proc/stat. */
export async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - f[3]! - f[4]!, total }
}

export async function memStatus(pid: number): Promise<MemStatus | null> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null)
  if (!text) return null
  const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN)
  return {
    rssKB: field('VmRSS'),
    anonKB: field('RssAnon'),
    fileKB: field('RssFile'),
    shmemKB: field('RssShmem'),
    threads: field('Threads'),
  }
}

async function statFields(pid: number): Promise<string[] | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  // Fields after "(comm) " start at field 3 (state); comm may contain spaces.
  return text ? (text.slice(text.lastIndexOf(')') + 2).split(' ') ?? null) : null
}

/** User + system CPU time the process has used, in ms. */
export async function cpuMs(pid: number): Promise<number | null> {
  const f = await statFields(pid)
  return f ? ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK : null
}

/** Wall time (ms) the process was started, from /proc (10 ms resolution). */
export async function startedAtMs(pid: number): Promise<number | null> {
  const f = await statFields(pid)
  if (!f) return null
  const uptimeS = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0])
  const bootMs = Date.now() - uptimeS * 1000
  return bootMs + (Number(f[19]) * 1000) / CLK_TCK
}

// ---- agent logs --------------------------------------------------------------

/** Wall times of every log line per message, from an agent's pino JSON log. */
export async function logTimes(logPath: string): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>()
  const text = await readFile(logPath, 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const j = JSON.parse(line) as { time?: string | number; msg?: string }
      if (!j.msg || j.time === undefined) continue
      const t = typeof j.time === 'number' ? j.time : Date.parse(j.time)
      out.set(j.msg, [...(out.get(j.msg) ?? []), t])
    } catch {
      // a line cut short by SIGKILL
    }
  }
  return out
}
