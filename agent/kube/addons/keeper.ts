import type { Timer } from '../../core/clock.js'
import { applyAddons } from './index.js'
import { describeProblem } from './problem.js'
import type { AddonsReport, ApplyAddonsOptions } from './types.js'

// Runs the add-on applier on the coordinator, on a timer: cheap when nothing changed
// (read the files, hash them, one GET of the state ConfigMap), so a short period makes
// an edited manifest appear quickly, while the applier's own resync heals drift.

export const addonPassEveryMsDefault = 30_000

export interface AddonKeeperInit extends ApplyAddonsOptions {
  everyMs?: number
  /**
   * Until a first pass succeeds, try every `retryMs` instead of `everyMs`: kwok's Nodes
   * cannot register before their RBAC is in, so that keeper retries every few seconds
   * while the coordinator's kubeconfig or API server is not there yet. Default: everyMs.
   */
  retryMs?: number
  /** Whether this node may act now (the coordinator lease is held); checked before every pass. */
  mayAct: () => boolean
  /** Tests only: the applier. */
  apply?: (opts: ApplyAddonsOptions) => Promise<AddonsReport>
}

export class AddonKeeper {
  private timer: Timer | null = null
  private running = false
  /** The last pass's report, for the status view; null before the first. */
  lastReport: AddonsReport | null = null
  lastError: Error | null = null

  constructor(private readonly init: AddonKeeperInit) {}

  start(): void {
    if (this.timer) return
    this.schedule()
    void this.pass()
  }

  private schedule(): void {
    this.timer?.cancel()
    const everyMs = this.init.everyMs ?? addonPassEveryMsDefault
    const ms = this.lastReport ? everyMs : (this.init.retryMs ?? everyMs)
    this.timer = this.init.clock.setInterval(() => void this.pass(), ms)
  }

  stop(): void {
    this.timer?.cancel()
    this.timer = null
  }

  /** One pass, unless one is still running or this node may not act. Never throws. */
  async pass(): Promise<AddonsReport | null> {
    if (this.running || !this.init.mayAct()) return null
    this.running = true
    try {
      const report = await (this.init.apply ?? applyAddons)(this.init)
      const first = this.lastReport === null
      this.lastReport = report
      this.lastError = null
      // Back to the normal period once the first pass went through (unless stopped).
      if (first && this.timer && this.init.retryMs !== undefined) this.schedule()
      return report
    } catch (err) {
      // Logged once per distinct failure, so an API server that is down for a while
      // does not fill the log every 30 s.
      if (this.lastError?.message !== (err as Error).message) {
        this.init.log.warn({ err }, `add-ons not applied: ${(err as Error).message}`)
      }
      this.lastError = err as Error
      return null
    } finally {
      this.running = false
    }
  }

  /** One line per refused document of the last pass, for status output. */
  problems(): string[] {
    return (this.lastReport?.problems ?? []).map(describeProblem)
  }
}
