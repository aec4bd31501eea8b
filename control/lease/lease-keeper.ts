import type { Clock, Timer } from '../../agent/core/clock.js'
import { Controller } from '../../agent/core/controller.js'
import type { Logger } from '../../agent/core/log.js'
import { type Random, systemRandom } from '../../agent/core/random.js'

// Keeps one etcd lease alive and knows, on its own clock, until when the lease is
// certainly still valid. The bound uses the time a keepalive was *sent*: etcd restarts
// the TTL when the keepalive arrives, which is later, so the lease cannot expire at
// the server before our bound passes. A holder that stops acting at the bound never
// overlaps with the next holder, even when it cannot reach etcd at all. Keepalives run on
// a controller with one key; leaseBoundAfter (pure) moves the bound.

/** The narrow slice of EtcdClient a keeper needs (a fake in unit tests). */
export interface LeaseApi {
  leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttlSeconds: number }>
  leaseKeepAliveOnce(id: bigint, opts?: { timeoutMs?: number }): Promise<number>
  leaseRevoke(id: bigint): Promise<void>
}

export interface LeaseKeeperInit {
  ttlSeconds: number
  /** Keepalive period; default a third of the TTL. */
  intervalMs?: number
  /** Subtracted from the bound for clock-rate drift and scheduling delays. */
  safetyMarginMs?: number
}

export interface LeaseKeeperComponents {
  api: LeaseApi
  clock: Clock
  logger: Logger
  random?: Random
}

/** expired: no keepalive confirmed in time (etcd may be unreachable); revoked: etcd says it is gone. */
export type LeaseLossReason = 'expired' | 'revoked'

export const leaseSafetyMarginMsDefault = 250

/**
 * The lease's bound after a keepalive sent at `sentAtMono` was answered with `ttlSeconds`
 * (pure): never earlier than it was; a TTL of 0 or less means etcd no longer has the lease.
 */
export function leaseBoundAfter(
  boundMono: number,
  sentAtMono: number,
  ttlSeconds: number,
  marginMs: number,
): { revoked: true } | { revoked: false; boundMono: number } {
  if (ttlSeconds <= 0) return { revoked: true }
  return { revoked: false, boundMono: Math.max(boundMono, sentAtMono + ttlSeconds * 1000 - marginMs) }
}

export class LeaseKeeper {
  private leaseId: bigint | undefined
  private validUntilMono = 0
  private lost: LeaseLossReason | undefined
  private readonly keepalives: Controller
  private expiryTimer: Timer | undefined
  private stopped = false
  private readonly lossListeners = new Set<(reason: LeaseLossReason) => void>()
  private readonly intervalMs: number
  private readonly marginMs: number

  constructor(
    private readonly init: LeaseKeeperInit,
    private readonly c: LeaseKeeperComponents,
  ) {
    this.intervalMs = init.intervalMs ?? Math.max(100, Math.floor((init.ttlSeconds * 1000) / 3))
    this.marginMs = init.safetyMarginMs ?? leaseSafetyMarginMsDefault
    this.keepalives = new Controller(
      {
        name: 'lease-keepalive',
        keys: () => ['keepalive'],
        resyncMs: this.intervalMs,
        syncAtStart: false,
        mayAct: () => this.lost === undefined,
        sync: () => this.tick(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.logger },
    )
  }

  /** Grants the lease and starts keeping it alive; returns its id. */
  async start(): Promise<bigint> {
    if (this.leaseId !== undefined) return this.leaseId
    const sentAt = this.c.clock.monoMs()
    const granted = await this.c.api.leaseGrant(this.init.ttlSeconds)
    this.leaseId = granted.id
    this.extend(sentAt, granted.ttlSeconds)
    this.keepalives.start()
    return granted.id
  }

  get id(): bigint | undefined {
    return this.leaseId
  }

  /** True while the lease is certainly alive at etcd. */
  isValid(): boolean {
    return (
      this.lost === undefined && this.leaseId !== undefined && this.c.clock.monoMs() < this.validUntilMono
    )
  }

  /** Monotonic time until which the lease is certainly alive. */
  get validUntilMonoMs(): number {
    return this.validUntilMono
  }

  get lossReason(): LeaseLossReason | undefined {
    return this.lost
  }

  /** Called once, when the lease is (or may be) gone. */
  onLost(listener: (reason: LeaseLossReason) => void): () => void {
    this.lossListeners.add(listener)
    return () => this.lossListeners.delete(listener)
  }

  /** Stops keepalives; `revoke` also deletes the lease (and its keys) at once. */
  async stop(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.expiryTimer?.cancel()
    await this.keepalives.stop()
    const id = this.leaseId
    if (opts.revoke && id !== undefined) {
      await this.c.api
        .leaseRevoke(id)
        .catch((err) => this.c.logger.warn({ err: err.message }, 'lease revoke failed'))
    }
  }

  private async tick(): Promise<void> {
    const id = this.leaseId
    if (this.stopped || this.lost || id === undefined) return
    const sentAt = this.c.clock.monoMs()
    try {
      // A keepalive answered after the bound cannot extend it meaningfully: bound the wait.
      const ttl = await this.c.api.leaseKeepAliveOnce(id, { timeoutMs: Math.max(100, this.intervalMs) })
      if (this.stopped || this.lost) return
      this.extend(sentAt, ttl)
    } catch (err) {
      // Expected while etcd is unreachable: the expiry timer, not the log, acts on it.
      this.c.logger.debug({ err: (err as Error).message }, 'lease keepalive failed')
    }
  }

  private extend(sentAtMono: number, ttlSeconds: number): void {
    const next = leaseBoundAfter(this.validUntilMono, sentAtMono, ttlSeconds, this.marginMs)
    if (next.revoked) {
      this.lose('revoked')
      return
    }
    this.validUntilMono = next.boundMono
    this.armExpiry()
  }

  private armExpiry(): void {
    this.expiryTimer?.cancel()
    // Timers may fire a little early against the monotonic clock: re-arm until due.
    const inMs = Math.max(0, Math.ceil(this.validUntilMono - this.c.clock.monoMs()))
    this.expiryTimer = this.c.clock.setTimeout(() => {
      if (this.stopped || this.lost) return
      if (this.c.clock.monoMs() >= this.validUntilMono) this.lose('expired')
      else this.armExpiry()
    }, inMs + 1)
  }

  private lose(reason: LeaseLossReason): void {
    if (this.lost) return
    this.lost = reason
    void this.keepalives.stop()
    this.expiryTimer?.cancel()
    this.c.logger.warn({ lease: this.leaseId?.toString(16), reason }, 'lease lost')
    for (const l of this.lossListeners) l(reason)
  }
}
