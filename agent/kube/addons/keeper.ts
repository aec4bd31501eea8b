import type { BackoffPolicy } from '../../core/backoff.js'
import { Controller } from '../../core/controller.js'
import type { Counters } from '../../core/counters.js'
import { type Random, systemRandom } from '../../core/random.js'
import { applyAddons } from './index.js'
import { describeProblem } from './problem.js'
import type { AddonsReport, ApplyAddonsOptions } from './types.js'

// Runs the add-on applier on the coordinator, as a controller with one key: cheap when
// nothing changed (read the files, hash them, one GET of the state ConfigMap), so a short
// period makes an edited manifest appear quickly, while the applier's own resync heals drift.

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
  random?: Random
  counters?: Counters
  /** Tests only: the applier. */
  apply?: (opts: ApplyAddonsOptions) => Promise<AddonsReport>
}

/** How soon a failed pass is tried again (pure): retryMs until a first success, then the period. */
export function addonRetryPolicy(
  succeededOnce: boolean,
  everyMs: number,
  retryMs: number | undefined,
): BackoffPolicy {
  const ms = succeededOnce ? everyMs : (retryMs ?? everyMs)
  return { initialDelayMs: ms, factor: 1, delayMsMax: ms, jitter: 0 }
}

export class AddonKeeper {
  private readonly ctl: Controller
  /** The last pass's report, for the status view; null before the first. */
  lastReport: AddonsReport | null = null
  lastError: Error | null = null

  constructor(private readonly init: AddonKeeperInit) {
    const everyMs = init.everyMs ?? addonPassEveryMsDefault
    this.ctl = new Controller(
      {
        name: init.stateConfigMap ?? 'addons',
        keys: () => ['apply'],
        resyncMs: everyMs,
        mayAct: init.mayAct,
        backoff: () => addonRetryPolicy(this.lastReport !== null, everyMs, init.retryMs),
        sync: async () => {
          await this.applyOnce()
        },
      },
      { clock: init.clock, random: init.random ?? systemRandom(), log: init.log, counters: init.counters },
    )
  }

  /** A pass now, then one a period after each (failed passes: see addonRetryPolicy). */
  start(): void {
    this.ctl.start()
  }

  /** Resolves once a pass in flight has finished. */
  stop(): Promise<void> {
    return this.ctl.stop()
  }

  /** One pass outside the loop (tests), unless this node may not act. Never throws. */
  async pass(): Promise<AddonsReport | null> {
    if (!this.init.mayAct()) return null
    return this.applyOnce().catch(() => null)
  }

  /** One line per refused document of the last pass, for status output. */
  problems(): string[] {
    return (this.lastReport?.problems ?? []).map(describeProblem)
  }

  private async applyOnce(): Promise<AddonsReport> {
    try {
      const report = await (this.init.apply ?? applyAddons)(this.init)
      this.lastReport = report
      this.lastError = null
      return report
    } catch (err) {
      this.lastError = err as Error
      throw err
    }
  }
}
