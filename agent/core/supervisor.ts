import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { backoffDelayMs, failuresAfterCrash, type RestartPolicy, restartPolicyDefault } from './backoff.js'
import type { Clock, Timer } from './clock.js'
import type { Counters } from './counters.js'
import { HomecloudError } from './errors.js'
import { LineSplitter, LogBudget, type LogLevel, RecentLines } from './lines.js'
import type { Logger } from './log.js'
import { type Random, systemRandom } from './random.js'
import { saveFailed } from './saves.js'

// Supervises one long-running child program (etcd, kube-apiserver, kwok, dnsmasq): start
// it, forward its output into the agent log (rate-bounded), restart it with capped
// jittered backoff when it exits on its own, stop it with SIGTERM then SIGKILL. The child
// stays in the agent's process group, so a whole-group kill (a lab unplug, a board losing
// power) takes it along; after a lone agent crash the pid file lets the next agent kill it.

export interface SupervisedProgram {
  /** Short name for logs and errors ("kube-apiserver", "kwok"). */
  name: string
  binary: string
  args: readonly string[]
  /** Extra environment (added to the agent's own). */
  env?: Record<string, string>
  /**
   * One argument that only our instance of the program carries (e.g. `--kubeconfig=<state>/…`):
   * a pid from the pid file is killed only when its command line holds it, since pids get reused.
   */
  marker: string
  pidFile?: string
  restart?: Partial<RestartPolicy>
  stopGraceMs?: number
  /** Maps one output line to a level and message; default: klog's `I0102 …` prefixes. */
  parseLine?: (line: string) => ParsedLine
  logLinesPerSecondMax?: number
  logBurstMax?: number
  /** Lines kept for the exit report; default 20. */
  recentLinesMax?: number
  /**
   * Bindings of the program's child logger; default `{ proc: name }`. etcd and dnsmasq
   * log as `component` (with etcd's `member`), which their readers already filter on.
   */
  logBindings?: Record<string, unknown>
  /**
   * Sees every output line, before level and rate filtering: dnsmasq's DHCP and TFTP
   * lines are events for the netboot book, whatever the log keeps of them.
   */
  onLine?: (line: string) => void
  /**
   * The error start() rejects with when the program cannot be spawned: each program
   * names its own package to install. Default: KUBE_NOT_INSTALLED for a missing binary.
   */
  startError?: (err: NodeJS.ErrnoException) => HomecloudError
}

export interface ParsedLine {
  level: LogLevel
  msg: string
  /** Structured fields logged with the message (etcd's zap fields). */
  fields?: Record<string, unknown>
}

export interface SupervisorComponents {
  logger: Logger
  clock: Clock
  /** Jitter for restart delays; default the system source. */
  random?: Random
  /** Where a failed pid-file write is counted. */
  counters?: Counters
}

export type SupervisorState = 'idle' | 'running' | 'restart-wait' | 'stopping' | 'stopped'

export interface ChildExit {
  code: number | null
  signal: string | null
  runMs: number
  lastLines: string[]
}

export interface SupervisorStatus {
  state: SupervisorState
  pid: number | undefined
  /** Restarts after unexpected exits since the supervisor was made. */
  restarts: number
  /** Consecutive quick crashes (drives the backoff). */
  failures: number
  lastExit: ChildExit | undefined
}

/** Called after every exit; `willRestart` is false for exits we asked for. */
export type ExitListener = (exit: ChildExit, willRestart: boolean) => void

export const supervisorStopGraceMsDefault = 10_000
const recentLinesMaxDefault = 20
const recentLineCharsMax = 400
const staleExitWaitMs = 5000

/**
 * kwok: Go slog JSON (`{"level":"INFO","msg":…}`) or klog-style text. Its INFO lines are
 * per-heartbeat chatter, so they go to debug.
 */
export function parseKwokLine(line: string): { level: LogLevel; msg: string } {
  if (line.startsWith('{')) {
    try {
      const o = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: unknown }
      if (typeof o.msg === 'string') {
        const lv = String(o.level).toUpperCase()
        const level: LogLevel = lv === 'ERROR' ? 'error' : lv === 'WARN' ? 'warn' : 'debug'
        return { level, msg: o.err ? `${o.msg}: ${String(o.err)}` : o.msg }
      }
    } catch {}
  }
  if (line.startsWith('"Warning:')) return { level: 'debug', msg: line }
  return parseKlogLine(line)
}

/** klog: `I1121 08:56:36.123456   1234 file.go:12] message` (pure). */
export function parseKlogLine(line: string): { level: LogLevel; msg: string } {
  const m = /^([IWEF])\d{4} [\d:.]+\s+\d+ [^\]]*\] ?(.*)$/.exec(line)
  if (m) {
    const level = ({ I: 'info', W: 'warn', E: 'error', F: 'fatal' } as const)[m[1] as 'I' | 'W' | 'E' | 'F']
    return { level, msg: m[2] ?? '' }
  }
  // Not klog: structured JSON, a flag error, a Go panic trace.
  const lower = line.toLowerCase()
  if (/\b(panic|fatal)\b/.test(lower)) return { level: 'fatal', msg: line }
  if (/\berror\b|level=error/.test(lower)) return { level: 'error', msg: line }
  if (/\bwarn(ing)?\b|level=warn/.test(lower)) return { level: 'warn', msg: line }
  return { level: 'info', msg: line }
}

export class Supervisor {
  private readonly policy: RestartPolicy
  private readonly log: Logger
  private readonly clock: Clock
  private readonly random: Random
  private readonly counters: Counters | undefined
  private readonly parse: (line: string) => ParsedLine
  private state: SupervisorState = 'idle'
  private child: ResultPromise | undefined
  private exited: Promise<ChildExit> | undefined
  private restartTimer: Timer | undefined
  private restarts = 0
  private failures = 0
  private lastExit: ChildExit | undefined
  private readonly listeners = new Set<ExitListener>()
  private readonly recent: RecentLines
  private readonly budget: LogBudget

  constructor(
    private readonly p: SupervisedProgram,
    c: SupervisorComponents,
  ) {
    this.policy = { ...restartPolicyDefault, ...p.restart }
    this.clock = c.clock
    this.random = c.random ?? systemRandom()
    this.counters = c.counters
    // By default `proc`, not `component`: callers often log as a component already.
    this.log = c.logger.child(p.logBindings ?? { proc: p.name })
    this.parse = p.parseLine ?? parseKlogLine
    this.recent = new RecentLines(p.recentLinesMax ?? recentLinesMaxDefault)
    this.budget = new LogBudget(p.logLinesPerSecondMax ?? 20, p.logBurstMax ?? 200)
    if (!p.args.includes(p.marker)) {
      throw new HomecloudError(
        'PROCESS_FAILED',
        `${p.name}: the marker ${p.marker} is not among its arguments`,
      )
    }
  }

  get name(): string {
    return this.p.name
  }

  get pid(): number | undefined {
    return this.state === 'running' ? this.child?.pid : undefined
  }

  status(): SupervisorStatus {
    return {
      state: this.state,
      pid: this.pid,
      restarts: this.restarts,
      failures: this.failures,
      lastExit: this.lastExit,
    }
  }

  /**
   * Called after every exit, once the restart (if any) is scheduled: etcd's owner reads
   * the last lines to learn at once that the cluster removed the member.
   */
  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Running, or waiting to restart after a crash (not stopped by us). */
  get active(): boolean {
    return this.state === 'running' || this.state === 'restart-wait'
  }

  /** Starts the program; resolves once the process exists (readiness is the caller's question). */
  async start(): Promise<void> {
    if (this.active) return
    if (this.state === 'stopping') await this.exited?.catch(() => undefined)
    if (this.p.pidFile) {
      await mkdir(dirname(this.p.pidFile), { recursive: true, mode: 0o700 })
      await killStale(this.p.pidFile, this.p.marker, this.clock, this.log)
    }
    this.failures = 0
    this.spawn()
    const child = this.child
    if (!child) return
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve())
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(this.p.startError ? this.p.startError(err) : this.kubeStartError(err)),
      )
    }).catch(async (err) => {
      await this.kill()
      throw err
    })
    if (this.p.pidFile && child.pid) await writeFile(this.p.pidFile, `${child.pid}\n`, { mode: 0o600 })
  }

  private kubeStartError(err: NodeJS.ErrnoException): HomecloudError {
    return err.code === 'ENOENT'
      ? new HomecloudError(
          'KUBE_NOT_INSTALLED',
          `${this.p.binary} not found`,
          'build the pinned components: images/kubernetes/build.sh, or set HOMECLOUD_KUBE_BIN',
        )
      : new HomecloudError('PROCESS_FAILED', `cannot start ${this.p.name}: ${err.message}`, undefined, {
          cause: err,
        })
  }

  /** SIGTERM, then SIGKILL after the grace period; no restart. */
  stop(graceMs = this.p.stopGraceMs ?? supervisorStopGraceMsDefault): Promise<ChildExit | undefined> {
    return this.halt('SIGTERM', graceMs)
  }

  /** SIGKILL at once; no restart. */
  kill(): Promise<ChildExit | undefined> {
    return this.halt('SIGKILL', 0)
  }

  private async halt(signal: NodeJS.Signals, graceMs: number): Promise<ChildExit | undefined> {
    this.restartTimer?.cancel()
    this.restartTimer = undefined
    const child = this.child
    const exited = this.exited
    if (!child || !exited || this.state !== 'running') {
      if (this.state !== 'stopping') this.state = 'stopped'
      const exit = exited ? await exited : undefined
      if (this.p.pidFile) await rm(this.p.pidFile, { force: true })
      return exit
    }
    this.state = 'stopping'
    child.kill(signal)
    const escalate =
      signal === 'SIGKILL' ? undefined : this.clock.setTimeout(() => child.kill('SIGKILL'), graceMs)
    try {
      return await exited
    } finally {
      escalate?.cancel()
      if (this.p.pidFile) await rm(this.p.pidFile, { force: true })
    }
  }

  private spawn(): void {
    const startedMs = this.clock.monoMs()
    const child = execa(this.p.binary, [...this.p.args], {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      // We escalate ourselves; execa's own SIGKILL timer would race ours.
      forceKillAfterDelay: false,
      env: this.p.env,
    })
    this.child = child
    this.state = 'running'
    const stdout = new LineSplitter()
    const stderr = new LineSplitter()
    child.stdout?.on('data', (chunk: Buffer) => this.lines(stdout.push(chunk)))
    child.stderr?.on('data', (chunk: Buffer) => this.lines(stderr.push(chunk)))
    this.exited = child.then((result) => {
      this.lines([...stdout.flush(), ...stderr.flush()])
      const exit: ChildExit = {
        code: result.exitCode ?? null,
        signal: result.signal ?? null,
        runMs: Math.round(this.clock.monoMs() - startedMs),
        lastLines: this.recent.all(),
      }
      this.exitedWith(exit)
      return exit
    })
  }

  private exitedWith(exit: ChildExit): void {
    this.lastExit = exit
    const willRestart = this.state === 'running'
    if (willRestart) this.scheduleRestart(exit)
    else {
      this.state = 'stopped'
      this.log.info({ code: exit.code, signal: exit.signal }, `${this.p.name} stopped`)
    }
    for (const l of this.listeners) l(exit, willRestart)
  }

  private scheduleRestart(exit: ChildExit): void {
    this.failures = failuresAfterCrash(this.failures, exit.runMs, this.policy)
    const delayMs = backoffDelayMs(this.failures, this.policy, this.random.next())
    this.state = 'restart-wait'
    this.log.warn(
      {
        code: exit.code,
        signal: exit.signal,
        runMs: exit.runMs,
        delayMs,
        lastLines: exit.lastLines.slice(-5),
      },
      `${this.p.name} exited unexpectedly; restarting`,
    )
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined
      if (this.state !== 'restart-wait') return
      this.restarts++
      this.spawn()
      const pid = this.child?.pid
      if (this.p.pidFile && pid)
        void writeFile(this.p.pidFile, `${pid}\n`, { mode: 0o600 }).catch(
          saveFailed(this.log, this.counters, `${this.p.name} pid file`),
        )
      this.child?.once('error', (err) =>
        this.log.error({ err: err.message }, `${this.p.name} restart failed`),
      )
    }, delayMs)
  }

  private lines(lines: string[]): void {
    for (const line of lines) {
      this.recent.push(line.length > recentLineCharsMax ? `${line.slice(0, recentLineCharsMax)}…` : line)
      this.p.onLine?.(line)
      const parsed = this.parse(line)
      if (!this.log.isLevelEnabled(parsed.level)) continue
      if (!this.budget.allow(this.clock.monoMs())) continue
      const dropped = this.budget.takeDropped()
      if (dropped > 0) this.log.warn({ dropped }, `${this.p.name} log lines dropped (rate limit)`)
      if (parsed.fields) this.log[parsed.level](parsed.fields, parsed.msg)
      else this.log[parsed.level](parsed.msg)
    }
  }
}

/** A child left behind by an agent that crashed: killed only if its command line carries our marker. */
export async function killStale(pidFile: string, marker: string, clock: Clock, log: Logger): Promise<void> {
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).trim(), 10)
  if (!Number.isSafeInteger(pid) || pid <= 1) return
  if (await isOurs(pid, marker)) {
    log.warn({ pid, marker }, 'killing a process left behind by an earlier agent')
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
    const deadline = clock.monoMs() + staleExitWaitMs
    while ((await isOurs(pid, marker)) && clock.monoMs() < deadline) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 50))
    }
  }
  await rm(pidFile, { force: true })
}

async function isOurs(pid: number, marker: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    if (stat.split(') ')[1]?.startsWith('Z')) return false
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').includes(marker)
  } catch {
    return false
  }
}
