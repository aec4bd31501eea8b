import { mkdir } from 'node:fs/promises'
import { execa, type ResultPromise } from 'execa'
import type { Clock, Timer } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import {
  failuresAfterCrash,
  type RestartPolicy,
  restartDelayMs,
  restartPolicyDefault,
} from '../etcd/backoff.js'
import { LineSplitter, LogBudget } from '../etcd/log-lines.js'
import { type DnsmasqEvent, dnsmasqLineLevel, parseDnsmasqLine } from './dnsmasq-log.js'

// Supervises dnsmasq (Debian dnsmasq-base) as a child of the agent: one config file,
// foreground, log lines to stderr → the agent's log; restarted with backoff when it
// exits on its own (same policy as etcd), SIGKILLed with the agent's stop.

export interface DnsmasqInit {
  configFile: string
  /** Default `dnsmasq` from PATH. */
  binary?: string
  restart?: Partial<RestartPolicy>
}

export interface DnsmasqComponents {
  log: Logger
  clock: Clock
  onEvent?: (e: DnsmasqEvent) => void
  random?: () => number
}

export interface DnsmasqStatus {
  state: 'idle' | 'running' | 'restart-wait' | 'stopped'
  pid: number | undefined
  restarts: number
  lastExit: { code: number | null; signal: string | null; lastLines: string[] } | null
}

const recentMax = 10

export class DnsmasqProcess {
  private readonly log: Logger
  private readonly policy: RestartPolicy
  private readonly budget = new LogBudget(50, 500)
  private state: DnsmasqStatus['state'] = 'idle'
  private child: ResultPromise | undefined
  private timer: Timer | undefined
  private restarts = 0
  private failures = 0
  private recent: string[] = []
  private lastExit: DnsmasqStatus['lastExit'] = null

  constructor(
    private readonly init: DnsmasqInit,
    private readonly c: DnsmasqComponents,
  ) {
    this.log = c.log.child({ component: 'dnsmasq' })
    this.policy = { ...restartPolicyDefault, ...init.restart }
  }

  status(): DnsmasqStatus {
    return { state: this.state, pid: this.child?.pid, restarts: this.restarts, lastExit: this.lastExit }
  }

  /** Starts dnsmasq; rejects with NETBOOT_DNSMASQ when it is not installed or exits at once. */
  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'restart-wait') return
    this.failures = 0
    const child = this.spawn()
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve())
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new HomecloudError(
            'NETBOOT_DNSMASQ',
            err.code === 'ENOENT'
              ? `${this.binary} not found`
              : `cannot start ${this.binary}: ${err.message}`,
            'install it: apt-get install dnsmasq-base (no service is started by that package)',
          ),
        ),
      )
    })
  }

  /** Replaces the config and restarts dnsmasq (the config names its interface and policy). */
  async restart(): Promise<void> {
    await this.stop()
    this.state = 'idle'
    await this.start()
  }

  async stop(): Promise<void> {
    this.timer?.cancel()
    this.timer = undefined
    const child = this.child
    this.state = 'stopped'
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await child.catch(() => {})
  }

  private get binary(): string {
    return this.init.binary ?? 'dnsmasq'
  }

  private spawn(): ResultPromise {
    const started = this.c.clock.monoMs()
    const child = execa(this.binary, ['--keep-in-foreground', `--conf-file=${this.init.configFile}`], {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      forceKillAfterDelay: false,
    })
    this.child = child
    this.state = 'running'
    const out = new LineSplitter()
    const err = new LineSplitter()
    child.stdout?.on('data', (b: Buffer) => this.lines(out.push(b)))
    child.stderr?.on('data', (b: Buffer) => this.lines(err.push(b)))
    void child.then((r) => {
      if (this.child !== child) return
      this.lines([...out.flush(), ...err.flush()])
      this.lastExit = { code: r.exitCode ?? null, signal: r.signal ?? null, lastLines: [...this.recent] }
      if (this.state !== 'running') return
      const runMs = this.c.clock.monoMs() - started
      this.failures = failuresAfterCrash(this.failures, runMs, this.policy)
      const delayMs = restartDelayMs(this.failures, this.policy, (this.c.random ?? Math.random)())
      this.state = 'restart-wait'
      this.log.warn(
        { code: r.exitCode, signal: r.signal, delayMs, lastLines: this.recent.slice(-3) },
        'dnsmasq exited; restarting',
      )
      this.timer = this.c.clock.setTimeout(() => {
        this.timer = undefined
        if (this.state !== 'restart-wait') return
        this.restarts++
        this.spawn().once('error', (e) => this.log.error({ err: e.message }, 'dnsmasq restart failed'))
      }, delayMs)
    })
    return child
  }

  private lines(lines: string[]): void {
    for (const line of lines) {
      this.recent.push(line.slice(0, 300))
      if (this.recent.length > recentMax) this.recent.shift()
      const event = parseDnsmasqLine(line)
      if (event) this.c.onEvent?.(event)
      const level = dnsmasqLineLevel(line)
      if (!this.log.isLevelEnabled(level) || !this.budget.allow(this.c.clock.monoMs())) continue
      this.log[level]({ line }, 'dnsmasq')
    }
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 })
}
