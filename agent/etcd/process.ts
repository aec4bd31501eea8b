import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { RestartPolicy } from '../core/backoff.js'
import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import {
  type ChildExit,
  type ExitListener,
  killStale as killStaleMarked,
  type ParsedLine,
  Supervisor,
  type SupervisorState,
} from '../core/supervisor.js'
import { etcdProgram, notInstalled } from './binaries.js'
import { parseEtcdLogLine } from './log-lines.js'
import { buildEtcdArgs, type EtcdMemberSpec } from './spec.js'

// One etcd member as a child process, on the agent's common Supervisor: its arguments
// from the member spec, its zap JSON lines as structured log fields, and its exact
// `--data-dir=` as the mark of an etcd we left behind. Production stop is SIGTERM, then
// SIGKILL after a grace period; `kill()` is SIGKILL at once (tests, and a leader whose
// peers are stopping, where SIGTERM can hang).

export interface EtcdProcessInit {
  spec: EtcdMemberSpec
  /** Default: the pinned build (binaries.ts). */
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
  /** Jitter for restart delays. */
  random?: Random
}

export const stopGraceMsDefault = 10_000
export const logLinesPerSecondMaxDefault = 50
export const logBurstMaxDefault = 500
export const recentLinesMaxDefault = 20

export type EtcdProcessState = SupervisorState

/** How etcd exited; `lastLines` are the last lines it wrote (often the reason it stopped). */
export type EtcdExit = ChildExit

export interface EtcdProcessStatus {
  state: EtcdProcessState
  pid: number | undefined
  /** Restarts after unexpected exits since start(). */
  restarts: number
  /** Consecutive quick crashes (drives the backoff). */
  failures: number
  lastExit: EtcdExit | undefined
}

export class EtcdProcess {
  private readonly supervisor: Supervisor

  constructor(
    private readonly init: EtcdProcessInit,
    components: EtcdProcessComponents,
  ) {
    const binary = init.binary ?? etcdProgram('etcd')
    this.supervisor = new Supervisor(
      {
        name: 'etcd',
        binary,
        // Built now: a bad spec is refused here, not at the first restart.
        args: buildEtcdArgs(init.spec),
        env: init.env,
        marker: etcdMarker(init.spec.dataDir),
        pidFile: init.pidFile,
        restart: init.restart,
        stopGraceMs: init.stopGraceMs ?? stopGraceMsDefault,
        parseLine: parseEtcdLine,
        logBindings: { component: 'etcd', member: init.spec.name },
        logLinesPerSecondMax: init.logLinesPerSecondMax ?? logLinesPerSecondMaxDefault,
        logBurstMax: init.logBurstMax ?? logBurstMaxDefault,
        recentLinesMax: init.recentLinesMax ?? recentLinesMaxDefault,
        startError: (err) =>
          err.code === 'ENOENT'
            ? notInstalled(binary)
            : new HomecloudError('ETCD_PROCESS', `cannot start ${binary}: ${err.message}`, undefined, {
                cause: err,
              }),
      },
      components,
    )
  }

  get pid(): number | undefined {
    return this.supervisor.pid
  }

  status(): EtcdProcessStatus {
    const { state, pid, restarts, failures, lastExit } = this.supervisor.status()
    return { state, pid, restarts, failures, lastExit }
  }

  /** Called after every exit; `willRestart` is false for exits we asked for. */
  onExit(listener: ExitListener): () => void {
    return this.supervisor.onExit(listener)
  }

  /** Starts etcd; resolves once the process exists (not once it serves: ask the client). */
  async start(): Promise<void> {
    if (this.supervisor.active) return
    if (this.supervisor.status().state === 'stopping') {
      throw new HomecloudError('ETCD_PROCESS', 'etcd is still stopping')
    }
    await mkdir(dirname(this.init.spec.dataDir), { recursive: true, mode: 0o700 })
    await this.supervisor.start()
  }

  /** SIGTERM, then SIGKILL after the grace period; no restart. */
  stop(graceMs?: number): Promise<EtcdExit | undefined> {
    return this.supervisor.stop(graceMs)
  }

  /** SIGKILL at once; no restart. */
  kill(): Promise<EtcdExit | undefined> {
    return this.supervisor.kill()
  }
}

/** Our etcd's own argument: pids get reused, a data directory is ours alone. */
function etcdMarker(dataDir: string): string {
  return `--data-dir=${dataDir}`
}

// Keys the agent's logger sets itself; etcd's fields of the same name are renamed.
const reservedKeys = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node', 'component', 'member'])

function parseEtcdLine(line: string): ParsedLine {
  const { level, msg, fields } = parseEtcdLogLine(line)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) out[reservedKeys.has(k) ? `etcd_${k}` : k] = v
  return { level, msg, fields: out }
}

/**
 * An etcd from before an agent crash still holds the ports and the data directory:
 * killed only if its command line carries our exact `--data-dir=`.
 */
export function killStale(pidFile: string, dataDir: string, clock: Clock, log: Logger): Promise<void> {
  return killStaleMarked(pidFile, etcdMarker(dataDir), clock, log)
}
