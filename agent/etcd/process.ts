import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import type { Clock, Timer } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { failuresAfterCrash, type RestartPolicy, restartDelayMs, restartPolicyDefault } from './backoff.js'
import { LineSplitter, LogBudget, parseEtcdLogLine, RecentLines } from './log-lines.js'
import { buildEtcdArgs, type EtcdMemberSpec } from './spec.js'

// Supervises one etcd member as a child process: starts it, forwards its log lines to
// the agent log, restarts it with backoff when it exits on its own, and stops it.
// Production stop is SIGTERM, then SIGKILL after a grace period; `kill()` is SIGKILL
// at once (tests, and a leader whose peers are stopping, where SIGTERM can hang).

export interface EtcdProcessInit {
  spec: EtcdMemberSpec
  /** Default `etcd` from PATH (Debian `etcd-server`). */
  binary?: string
  /** Extra environment for the child (the test lab marks its children with it). */
  env?: Record<string, string>
  /** Records the child's pid, so a restarted agent can kill an etcd it left behind. */
  pidFile?: string
  restart?: Partial<RestartPolicy>
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number
  logLinesPerSecondMax?: number
  logBurstMax?: number
  /** Lines kept for the report when the process exits. */
  recentLinesMax?: number
}

export interface EtcdProcessComponents {
  logger: Logger
  clock: Clock
  /** In [0, 1); jitter for restart delays. */
  random?: () => number
}

export const stopGraceMsDefault = 10_000
export const logLinesPerSecondMaxDefault = 50
export const logBurstMaxDefault = 500
export const recentLinesMaxDefault = 20
/** A recent line kept for exit reports is cut to this many characters. */
export const recentLineCharsMax = 400
const staleExitWaitMs = 5000

export type EtcdProcessState = 'idle' | 'running' | 'restart-wait' | 'stopping' | 'stopped'

export interface EtcdExit {
  code: number | null
  signal: string | null
  runMs: number
  /** The last lines etcd wrote (often the reason it stopped). */
  lastLines: string[]
}

export interface EtcdProcessStatus {
  state: EtcdProcessState
  pid: number | undefined
  /** Restarts after unexpected exits since start(). */
  restarts: number
  /** Consecutive quick crashes (drives the backoff). */
  failures: number
  lastExit: EtcdExit | undefined
}

type ExitListener = (exit: EtcdExit, willRestart: boolean) => void

export class EtcdProcess {
  private readonly spec: EtcdMemberSpec
  private readonly binary: string
  private readonly policy: RestartPolicy
  private readonly log: Logger
  private readonly clock: Clock
  private readonly random: () => number
  private state: EtcdProcessState = 'idle'
  private child: ResultPromise | undefined
  private exited: Promise<EtcdExit> | undefined
  private restartTimer: Timer | undefined
  private restarts = 0
  private failures = 0
  private lastExit: EtcdExit | undefined
  private readonly listeners = new Set<ExitListener>()
  private readonly recent: RecentLines
  private readonly budget: LogBudget

  constructor(
    private readonly init: EtcdProcessInit,
    components: EtcdProcessComponents,
  ) {
    this.spec = init.spec
    this.binary = init.binary ?? 'etcd'
    this.policy = { ...restartPolicyDefault, ...init.restart }
    this.clock = components.clock
    this.random = components.random ?? Math.random
    this.log = components.logger.child({ component: 'etcd', member: init.spec.name })
    this.recent = new RecentLines(init.recentLinesMax ?? recentLinesMaxDefault)
    this.budget = new LogBudget(
      init.logLinesPerSecondMax ?? logLinesPerSecondMaxDefault,
      init.logBurstMax ?? logBurstMaxDefault,
    )
    buildEtcdArgs(this.spec) // refuse a bad spec now, not at the first restart
  }

  get pid(): number | undefined {
    return this.state === 'running' ? this.child?.pid : undefined
  }

  status(): EtcdProcessStatus {
    return {
      state: this.state,
      pid: this.pid,
      restarts: this.restarts,
      failures: this.failures,
      lastExit: this.lastExit,
    }
  }

  /** Called after every exit; `willRestart` is false for exits we asked for. */
  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Starts etcd; resolves once the process exists (not once it serves: ask the client). */
  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'restart-wait') return
    if (this.state === 'stopping') throw new HomecloudError('ETCD_PROCESS', 'etcd is still stopping')
    await mkdir(dirname(this.spec.dataDir), { recursive: true, mode: 0o700 })
    if (this.init.pidFile) await killStale(this.init.pidFile, this.spec.dataDir, this.clock, this.log)
    this.failures = 0
    this.spawn()
    const child = this.child
    if (!child) return
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve())
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new HomecloudError(
                'ETCD_NOT_INSTALLED',
                `${this.binary} not found`,
                'install etcd: apt-get install etcd-server etcd-client',
              )
            : new HomecloudError('ETCD_PROCESS', `cannot start ${this.binary}: ${err.message}`, undefined, {
                cause: err,
              }),
        ),
      )
    }).catch(async (err) => {
      await this.kill()
      throw err
    })
    if (this.init.pidFile && child.pid) await writeFile(this.init.pidFile, `${child.pid}\n`, { mode: 0o600 })
  }

  /** SIGTERM, then SIGKILL after the grace period; no restart. */
  stop(graceMs = this.init.stopGraceMs ?? stopGraceMsDefault): Promise<EtcdExit | undefined> {
    return this.halt('SIGTERM', graceMs)
  }

  /** SIGKILL at once; no restart. */
  kill(): Promise<EtcdExit | undefined> {
    return this.halt('SIGKILL', 0)
  }

  private async halt(signal: NodeJS.Signals, graceMs: number): Promise<EtcdExit | undefined> {
    this.restartTimer?.cancel()
    this.restartTimer = undefined
    const child = this.child
    const exited = this.exited
    if (!child || !exited || this.state !== 'running') {
      if (this.state !== 'stopping') this.state = 'stopped'
      return exited ? await exited : undefined
    }
    this.state = 'stopping'
    child.kill(signal)
    const escalate =
      signal === 'SIGKILL' ? undefined : this.clock.setTimeout(() => child.kill('SIGKILL'), graceMs)
    try {
      return await exited
    } finally {
      escalate?.cancel()
      if (this.init.pidFile) await rm(this.init.pidFile, { force: true })
    }
  }

  private spawn(): void {
    const args = buildEtcdArgs(this.spec)
    const startedMs = this.clock.monoMs()
    const child = execa(this.binary, args, {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      // We escalate ourselves; execa's own SIGKILL timer would race ours.
      forceKillAfterDelay: false,
      env: this.init.env,
    })
    this.child = child
    this.state = 'running'
    const stdout = new LineSplitter()
    const stderr = new LineSplitter()
    child.stdout?.on('data', (chunk: Buffer) => this.lines(stdout.push(chunk)))
    child.stderr?.on('data', (chunk: Buffer) => this.lines(stderr.push(chunk)))
    this.exited = child.then((result) => {
      this.lines([...stdout.flush(), ...stderr.flush()])
      const exit: EtcdExit = {
        code: result.exitCode ?? null,
        signal: result.signal ?? null,
        runMs: Math.round(this.clock.monoMs() - startedMs),
        lastLines: this.recent.all(),
      }
      this.exitedWith(exit)
      return exit
    })
  }

  private exitedWith(exit: EtcdExit): void {
    this.lastExit = exit
    const wanted = this.state === 'running'
    if (!wanted) {
      this.state = 'stopped'
      this.log.info({ code: exit.code, signal: exit.signal }, 'etcd stopped')
    } else {
      this.failures = failuresAfterCrash(this.failures, exit.runMs, this.policy)
      const delayMs = restartDelayMs(this.failures, this.policy, this.random())
      this.state = 'restart-wait'
      this.log.warn(
        {
          code: exit.code,
          signal: exit.signal,
          runMs: exit.runMs,
          delayMs,
          lastLines: exit.lastLines.slice(-5),
        },
        'etcd exited unexpectedly; restarting',
      )
      this.restartTimer = this.clock.setTimeout(() => {
        this.restartTimer = undefined
        if (this.state !== 'restart-wait') return
        this.restarts++
        this.spawn()
        this.child?.once('error', (err) => this.log.error({ err: err.message }, 'etcd restart failed'))
      }, delayMs)
    }
    for (const l of this.listeners) l(exit, wanted)
  }

  private lines(lines: string[]): void {
    for (const line of lines) {
      this.recent.push(line.length > recentLineCharsMax ? `${line.slice(0, recentLineCharsMax)}…` : line)
      const parsed = parseEtcdLogLine(line)
      if (!this.log.isLevelEnabled(parsed.level)) continue
      if (!this.budget.allow(this.clock.monoMs())) continue
      const dropped = this.budget.takeDropped()
      if (dropped > 0) this.log.warn({ dropped }, 'etcd log lines dropped (rate limit)')
      this.log[parsed.level](withoutReservedKeys(parsed.fields), parsed.msg)
    }
  }
}

const reservedKeys = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node', 'component', 'member'])

function withoutReservedKeys(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) out[reservedKeys.has(k) ? `etcd_${k}` : k] = v
  return out
}

/**
 * An etcd from before an agent crash still holds the ports and the data directory.
 * It is ours only if its command line carries our exact `--data-dir=`: pids get reused.
 */
export async function killStale(pidFile: string, dataDir: string, clock: Clock, log: Logger): Promise<void> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).trim(), 10)
  if (!Number.isSafeInteger(pid) || pid <= 1) return
  if (!(await isEtcdFor(pid, dataDir))) return
  log.warn({ pid }, 'killing an etcd left behind by an earlier agent')
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
  const deadline = clock.monoMs() + staleExitWaitMs
  while ((await isEtcdFor(pid, dataDir)) && clock.monoMs() < deadline) {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 50))
  }
  await rm(pidFile, { force: true })
}

async function isEtcdFor(pid: number, dataDir: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    if (stat.split(') ')[1]?.startsWith('Z')) return false
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    return argv.includes(`--data-dir=${dataDir}`)
  } catch {
    return false
  }
}
