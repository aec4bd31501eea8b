// Starts netns-mdns-fixture.ts inside a lab namespace and collects what it prints.
import { readlinkSync, realpathSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { execInNetns } from '../../lab/netns/exec.js'
import { labNames } from '../../lab/netns/names.js'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const fixturePath = fileURLToPath(new URL('./netns-mdns-fixture.ts', import.meta.url))
/** Lines of stderr kept per process for failure reports. */
const stderrLinesMax = 40

export interface FixtureProc {
  name: string
  address: string
  dhtPort: number
  pid: number | undefined
  /** Test-clock time (performance.now) when the process printed "ready". */
  readyAt: number | undefined
  peerId: string | undefined
  /** "host:port" → test-clock time first seen. */
  peers: Map<string, number>
  rssMb: number | undefined
  stderrTail: string[]
  exited: Promise<unknown>
  kill(): Promise<void>
  /** SIGKILL without waiting: usable from a process 'exit' handler. */
  killNow(): void
}

export function startFixture(
  labIndex: number,
  node: number,
  clusterTag: string,
  dhtPort: number,
  intervalMs: number,
): FixtureProc {
  const n = labNames(labIndex, node)
  const child = execInNetns(
    n.netns,
    process.execPath,
    ['--import', 'tsx', fixturePath, n.address, clusterTag, String(dhtPort), String(intervalMs)],
    { cwd: repoRoot, reject: false, buffer: false, stdin: 'ignore', env: { HOMECLOUD_LOG_LEVEL: 'info' } },
  )
  const proc: FixtureProc = {
    name: `${n.netns}:${dhtPort}`,
    address: n.address,
    dhtPort,
    pid: child.pid,
    readyAt: undefined,
    peerId: undefined,
    peers: new Map(),
    rssMb: undefined,
    stderrTail: [],
    exited: child.then(
      () => undefined,
      () => undefined,
    ),
    async kill() {
      child.kill('SIGKILL')
      await proc.exited
    },
    killNow() {
      child.kill('SIGKILL')
    },
  }
  createInterface({ input: child.stdout }).on('line', (line) => {
    let ev: Record<string, unknown>
    try {
      ev = JSON.parse(line)
    } catch {
      proc.stderrTail.push(`stdout: ${line}`)
      return
    }
    if (ev.event === 'ready') {
      proc.readyAt = performance.now()
      proc.peerId = String(ev.peerId)
      proc.rssMb = Number(ev.rssMb)
    } else if (ev.event === 'peer') {
      const key = `${ev.dhtHost}:${ev.dhtPort}`
      if (!proc.peers.has(key)) proc.peers.set(key, performance.now())
      proc.rssMb = Number(ev.rssMb)
    }
  })
  createInterface({ input: child.stderr }).on('line', (line) => {
    proc.stderrTail.push(line)
    if (proc.stderrTail.length > stderrLinesMax) proc.stderrTail.shift()
  })
  return proc
}

/** True if pid runs the node binary itself (not `ip` or a shell wrapping it). */
export function pidIsNode(pid: number): boolean {
  return realpathSync(readlinkSync(`/proc/${pid}/exe`)) === realpathSync(process.execPath)
}

/** Polls cond every pollMs until it holds or deadlineMs passes; then throws with what(). */
export async function waitFor(cond: () => boolean, deadlineMs: number, what: () => string, pollMs = 50) {
  const end = performance.now() + deadlineMs
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what()}`)
    await new Promise((r) => setTimeout(r, pollMs))
  }
}
