import { type BackoffPolicy, backoffDelayMs } from './backoff.js'
import type { Clock, Timer } from './clock.js'
import type { Counters } from './counters.js'
import type { Logger } from './log.js'
import type { Random } from './random.js'

// The one controller primitive every loop runs on (the shape of Kubernetes' work queue,
// written for our clock and random source). A loop names keys; `sync(key)` observes,
// calls a pure decision and applies its actions. The queue holds keys, not events, so a
// burst of changes to one key is one sync; one sync per key at a time; a key changed
// while its sync runs is synced again right after; a failed sync is retried after a
// per-key jittered exponential backoff; every key is synced again a resync period after
// its last sync (level-triggered: a missed event only delays convergence). mayAct() —
// leadership or permission — is consulted before every sync. stop() waits for the syncs
// in flight and leaves no timer.

export interface SyncContext {
  /** Failed syncs of this key since its last success (0 on a first try). */
  failures: number
  /** The leadership/permission check again, for a sync that decides slowly before it acts. */
  mayAct(): boolean
  /** Aborted by stop(): a long sync should give up early. */
  signal: AbortSignal
}

/** What a successful sync may ask for: look at this key again after a while. */
export type SyncResult = { requeueAfterMs: number } | undefined

export interface ControllerInit<K extends string = string> {
  /** Names the loop in logs and metrics ("view", "node-lifecycle"). */
  name: string
  // biome-ignore lint/suspicious/noConfusingVoidType: a sync that returns nothing is the common case
  sync(key: K, ctx: SyncContext): Promise<SyncResult | void> | SyncResult | void
  /**
   * The keys that exist: enqueued by start() and, every resyncMs, those not yet known; a key
   * it no longer lists is not resynced. Default none (keys come from add()).
   */
  keys?: () => Iterable<K>
  /**
   * Each key is synced again this long after a sync that succeeded or was skipped (a failed
   * one retries on its backoff instead); default never.
   */
  resyncMs?: number
  /** false: start() schedules the first sync of each key a resync period away instead of now. */
  syncAtStart?: boolean
  /** Distinct keys that may be waiting (queued, running again or backing off); a new key beyond it is refused. */
  queueKeysMax?: number
  /** Syncs of different keys in flight at once; default 1. */
  workersMax?: number
  /** The retry policy; a function is asked at each failure (a loop may retry faster until it first succeeds). */
  backoff?: Partial<BackoffPolicy> | ((key: K) => Partial<BackoffPolicy>)
  /** Checked before each sync; false skips it (a skipped key waits for its resync) — e.g. "not the coordinator". */
  mayAct?: () => boolean
}

export interface ControllerComponents {
  clock: Clock
  random: Random
  log: Logger
  counters?: Counters
}

export interface ControllerStats {
  syncs: number
  failures: number
  skipped: number
  refused: number
  /** Failures not logged because they repeated the key's previous error. */
  repeatsQuiet: number
}

export const queueKeysMaxDefault = 1000
export const controllerBackoffDefault: BackoffPolicy = {
  initialDelayMs: 500,
  factor: 2,
  delayMsMax: 30_000,
  jitter: 0.2,
}

/** Why a key waits: a failure's retry, its periodic resync, or a delay someone asked for. */
type WaitKind = 'retry' | 'resync' | 'after'
type Wait = { timer: Timer; atMono: number; kind: WaitKind }

export class Controller<K extends string = string> {
  private readonly queue: K[] = []
  /** Keys that need a sync: queued, or changed while their sync runs. */
  private readonly dirty = new Set<K>()
  private readonly processing = new Set<K>()
  private readonly waits = new Map<K, Wait>()
  /** dirty ∪ processing ∪ waits: what the bound counts. */
  private readonly tracked = new Set<K>()
  private readonly failures = new Map<K, number>()
  private readonly lastError = new Map<K, { message: string; repeats: number }>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly idleWaiters: (() => void)[] = []
  private readonly abort = new AbortController()
  private readonly workersMax: number
  private readonly queueKeysMax: number
  private readonly counts: ControllerStats = {
    syncs: 0,
    failures: 0,
    skipped: 0,
    refused: 0,
    repeatsQuiet: 0,
  }
  private refusing = false
  private started = false
  private stopping: Promise<void> | null = null
  private pumpScheduled = false
  private discoverTimer: Timer | null = null

  constructor(
    private readonly init: ControllerInit<K>,
    private readonly c: ControllerComponents,
  ) {
    this.workersMax = Math.max(1, init.workersMax ?? 1)
    this.queueKeysMax = Math.max(1, init.queueKeysMax ?? queueKeysMaxDefault)
  }

  /** Enqueues the keys (or schedules them, with syncAtStart false) and starts looking for new ones; idempotent. */
  start(): this {
    if (this.started || this.stopping) return this
    this.started = true
    this.discover(this.init.syncAtStart !== false || !this.init.resyncMs)
    const every = this.init.resyncMs
    if (every && this.init.keys)
      this.discoverTimer = this.c.clock.setInterval(() => this.discover(true), every)
    return this
  }

  /** Asks for a sync of `key`; false when stopped or refused by the bound. */
  add(key: K): boolean {
    if (this.stopping) return false
    if (this.dirty.has(key)) return true
    if (!this.admit(key)) return false
    this.dirty.add(key)
    if (!this.processing.has(key)) {
      this.queue.push(key)
      this.schedulePump()
    }
    return true
  }

  /** Asks for a sync of `key` after `delayMs` (an earlier pending wait wins). */
  addAfter(key: K, delayMs: number): boolean {
    return this.wait(key, delayMs, 'after')
  }

  /**
   * Stops: no new syncs, every timer cancelled, the syncs' signal aborted. Resolves once the
   * syncs in flight have finished; every call returns the same promise.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping
    this.discoverTimer?.cancel()
    this.discoverTimer = null
    for (const w of this.waits.values()) w.timer.cancel()
    this.waits.clear()
    this.queue.length = 0
    this.dirty.clear()
    this.abort.abort()
    this.stopping = Promise.allSettled([...this.inFlight]).then(() => {
      this.tracked.clear()
      this.settleIdle()
    })
    return this.stopping
  }

  /** Resolves when nothing is queued or running (timers may still be pending): for tests. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve)
      this.settleIdle()
    })
  }

  stats(): ControllerStats {
    return { ...this.counts }
  }

  /** Keys waiting out a backoff or a requested delay, with when (monotonic ms) they run. */
  waiting(): Map<K, number> {
    return new Map([...this.waits].map(([k, w]) => [k, w.atMono]))
  }

  /** Keys that nothing holds yet: synced now, or a resync period from now. */
  private discover(now: boolean): void {
    for (const key of this.init.keys?.() ?? []) {
      if (this.tracked.has(key)) continue
      if (now) this.add(key)
      else this.wait(key, this.init.resyncMs ?? 0, 'resync')
    }
  }

  private stillListed(key: K): boolean {
    if (!this.init.keys) return true
    for (const k of this.init.keys()) if (k === key) return true
    return false
  }

  private admit(key: K): boolean {
    if (this.tracked.has(key)) return true
    if (this.tracked.size >= this.queueKeysMax) {
      this.counts.refused++
      this.c.counters?.inc('homecloud_controller_refused_total', { controller: this.init.name })
      if (!this.refusing)
        this.c.log.warn(
          { controller: this.init.name, key, queueKeysMax: this.queueKeysMax },
          `${this.init.name}: work queue full, refusing new keys`,
        )
      this.refusing = true
      return false
    }
    if (this.refusing) {
      this.c.log.info({ controller: this.init.name }, `${this.init.name}: work queue accepting keys again`)
      this.refusing = false
    }
    this.tracked.add(key)
    return true
  }

  private wait(key: K, delayMs: number, kind: WaitKind): boolean {
    if (this.stopping) return false
    const atMono = this.c.clock.monoMs() + Math.max(0, delayMs)
    const existing = this.waits.get(key)
    if (existing && existing.atMono <= atMono) return true
    if (!existing && !this.admit(key)) return false
    existing?.timer.cancel()
    const timer = this.c.clock.setTimeout(() => {
      if (this.waits.get(key)?.timer !== timer) return
      this.waits.delete(key)
      if (kind !== 'resync' || this.stillListed(key)) this.add(key)
      this.release(key)
    }, atMono - this.c.clock.monoMs())
    this.waits.set(key, { timer, atMono, kind })
    return true
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    queueMicrotask(() => this.pump())
  }

  private pump(): void {
    this.pumpScheduled = false
    while (!this.stopping && this.processing.size < this.workersMax && this.queue.length > 0) {
      const key = this.queue.shift() as K
      this.dirty.delete(key)
      this.processing.add(key)
      // This sync's outcome schedules what comes next (retry, resync or requested delay).
      this.waits.get(key)?.timer.cancel()
      this.waits.delete(key)
      const run = this.runOne(key)
      this.inFlight.add(run)
      void run.finally(() => this.inFlight.delete(run))
    }
    this.settleIdle()
  }

  private async runOne(key: K): Promise<void> {
    const name = this.init.name
    try {
      if (this.init.mayAct && !this.init.mayAct()) {
        this.skipped(key)
        return
      }
      const ctx: SyncContext = {
        failures: this.failures.get(key) ?? 0,
        mayAct: () => !this.stopping && (this.init.mayAct?.() ?? true),
        signal: this.abort.signal,
      }
      const result = await this.init.sync(key, ctx)
      this.succeeded(key, result ?? undefined)
    } catch (err) {
      if (this.stopping)
        this.c.log.debug({ controller: name, key, err: describe(err) }, `${name}: sync ended by stop`)
      else this.failed(key, err)
    } finally {
      this.processing.delete(key)
      if (!this.stopping && this.dirty.has(key)) this.queue.push(key)
      if (this.queue.length > 0) this.schedulePump()
      this.release(key)
      this.settleIdle()
    }
  }

  private succeeded(key: K, result: SyncResult | undefined): void {
    this.counts.syncs++
    this.c.counters?.inc('homecloud_controller_syncs_total', { controller: this.init.name, result: 'ok' })
    this.failures.delete(key)
    const last = this.lastError.get(key)
    if (last) {
      this.lastError.delete(key)
      this.c.log.info(
        { controller: this.init.name, key, repeats: last.repeats },
        `${this.init.name}: ${key} synced again after failures`,
      )
    }
    if (result?.requeueAfterMs !== undefined) this.wait(key, result.requeueAfterMs, 'after')
    else if (this.init.resyncMs) this.wait(key, this.init.resyncMs, 'resync')
  }

  private failed(key: K, err: unknown): void {
    const name = this.init.name
    this.counts.failures++
    this.c.counters?.inc('homecloud_controller_syncs_total', { controller: name, result: 'error' })
    const failures = (this.failures.get(key) ?? 0) + 1
    this.failures.set(key, failures)
    const b = this.init.backoff
    const policy = { ...controllerBackoffDefault, ...(typeof b === 'function' ? b(key) : b) }
    const retryInMs = backoffDelayMs(failures, policy, this.c.random.next())
    this.wait(key, retryInMs, 'retry')
    const message = describe(err)
    const last = this.lastError.get(key)
    if (last && last.message === message) {
      last.repeats++
      this.counts.repeatsQuiet++
      return
    }
    const hint = (err as { hint?: unknown } | null)?.hint
    this.c.log.warn(
      {
        controller: name,
        key,
        err: message,
        ...(typeof hint === 'string' ? { hint } : {}),
        failures,
        retryInMs,
        ...(last ? { previousRepeats: last.repeats } : {}),
      },
      `${name}: sync of ${key} failed`,
    )
    this.lastError.set(key, { message, repeats: 0 })
  }

  private skipped(key: K): void {
    this.counts.skipped++
    this.c.counters?.inc('homecloud_controller_syncs_total', {
      controller: this.init.name,
      result: 'skipped',
    })
    this.failures.delete(key)
    this.lastError.delete(key)
    if (this.init.resyncMs) this.wait(key, this.init.resyncMs, 'resync')
  }

  /** Forgets a key nothing holds any more, so the bound counts only live work. */
  private release(key: K): void {
    if (this.dirty.has(key) || this.processing.has(key) || this.waits.has(key)) return
    this.tracked.delete(key)
  }

  private settleIdle(): void {
    if (this.queue.length > 0 || this.processing.size > 0 || this.pumpScheduled) return
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }
}

/** One line for a failure: the error's code (when it has one) and message. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
