import type { RestartPolicy } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { Supervisor } from '../core/supervisor.js'
import { type DnsmasqEvent, dnsmasqLineLevel, parseDnsmasqLine } from './dnsmasq-log.js'

// dnsmasq (Debian dnsmasq-base) as a child of the agent, on the common Supervisor: one
// config file, foreground, log lines to stderr → the agent's log and the netboot book;
// restarted with backoff when it exits on its own (same policy as etcd), SIGKILLed
// when stopped (it holds nothing to flush).

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
  random?: Random
}

export interface DnsmasqStatus {
  state: 'idle' | 'running' | 'restart-wait' | 'stopped'
  pid: number | undefined
  restarts: number
  lastExit: { code: number | null; signal: string | null; lastLines: string[] } | null
}

const recentMax = 10

export class DnsmasqProcess {
  private readonly supervisor: Supervisor

  constructor(init: DnsmasqInit, c: DnsmasqComponents) {
    const binary = init.binary ?? 'dnsmasq'
    const configArg = `--conf-file=${init.configFile}`
    this.supervisor = new Supervisor(
      {
        name: 'dnsmasq',
        binary,
        args: ['--keep-in-foreground', configArg],
        marker: configArg,
        restart: init.restart,
        parseLine: (line) => ({ level: dnsmasqLineLevel(line), msg: 'dnsmasq', fields: { line } }),
        onLine: (line) => {
          const event = parseDnsmasqLine(line)
          if (event) c.onEvent?.(event)
        },
        logBindings: { component: 'dnsmasq' },
        logLinesPerSecondMax: 50,
        logBurstMax: 500,
        recentLinesMax: recentMax,
        startError: (err) =>
          new HomecloudError(
            'NETBOOT_DNSMASQ',
            err.code === 'ENOENT' ? `${binary} not found` : `cannot start ${binary}: ${err.message}`,
            'install it: apt-get install dnsmasq-base (no service is started by that package)',
          ),
      },
      { logger: c.log, clock: c.clock, random: c.random },
    )
  }

  status(): DnsmasqStatus {
    const s = this.supervisor.status()
    return {
      // It is SIGKILLed, so `stopping` lasts an instant: shown as stopped, as before.
      state: s.state === 'stopping' ? 'stopped' : s.state,
      pid: s.pid,
      restarts: s.restarts,
      lastExit: s.lastExit
        ? { code: s.lastExit.code, signal: s.lastExit.signal, lastLines: s.lastExit.lastLines }
        : null,
    }
  }

  /** Starts dnsmasq; rejects with NETBOOT_DNSMASQ when it is not installed or exits at once. */
  start(): Promise<void> {
    return this.supervisor.start()
  }

  /** Replaces the config and restarts dnsmasq (the config names its interface and policy). */
  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  async stop(): Promise<void> {
    await this.supervisor.kill()
  }
}
