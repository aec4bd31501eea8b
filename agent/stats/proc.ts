import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

// Linux /proc, read for the lab: which processes belong to this node (the agent and
// every program it started) and what they cost. Parsing is pure; reading is a thin shell.

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on every Linux ABI we run on). */
export const clockTicksPerSec = 100
export const pageBytes = 4096

export interface ProcStat {
  pid: number
  ppid: number
  /** utime + stime, in clock ticks. */
  ticks: number
  rssPages: number
}

/** One /proc/PID/stat line; null when it does not parse (the process may be gone mid-read). */
export function parseProcStat(line: string): ProcStat | null {
  // The command name is in parentheses and may itself hold spaces or parentheses.
  const open = line.indexOf('(')
  const close = line.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const pid = Number(line.slice(0, open).trim())
  const f = line.slice(close + 2).split(' ')
  // After the name: state(0) ppid(1) … utime(11) stime(12) … rss(21).
  const ppid = Number(f[1])
  const ticks = Number(f[11]) + Number(f[12])
  const rssPages = Number(f[21])
  if (![pid, ppid, ticks, rssPages].every(Number.isFinite)) return null
  return { pid, ppid, ticks, rssPages }
}

/** `root` and every process below it. */
export function processTree(all: readonly ProcStat[], root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>()
  for (const p of all) {
    const list = children.get(p.ppid)
    if (list) list.push(p)
    else children.set(p.ppid, [p])
  }
  const out: ProcStat[] = []
  const todo = all.filter((p) => p.pid === root)
  while (todo.length > 0) {
    const p = todo.pop()!
    out.push(p)
    todo.push(...(children.get(p.pid) ?? []))
  }
  return out
}

export const processesMax = 65_536

export async function readAllProcStats(procDir = '/proc'): Promise<ProcStat[]> {
  const pids = (await readdir(procDir)).filter((d) => /^\d+$/.test(d)).slice(0, processesMax)
  const out: ProcStat[] = []
  for (const pid of pids) {
    const line = await readFile(join(procDir, pid, 'stat'), 'utf8').catch(() => '')
    const s = line ? parseProcStat(line) : null
    if (s) out.push(s)
  }
  return out
}

/** Bytes of the files under `dir`, stopping after `entriesMax` entries (then a lower bound). */
export async function treeBytes(dir: string, entriesMax = 50_000): Promise<number> {
  let bytes = 0
  let seen = 0
  const todo = [dir]
  while (todo.length > 0 && seen < entriesMax) {
    const d = todo.pop()!
    const entries = await readdir(d, { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      if (++seen > entriesMax) break
      const p = join(d, e.name)
      if (e.isDirectory()) todo.push(p)
      else if (e.isFile()) bytes += (await stat(p).catch(() => null))?.size ?? 0
    }
  }
  return bytes
}
