import type { Clock } from '../../agent/core/clock.js'
import type { Logger } from '../../agent/core/log.js'
import type { Random } from '../../agent/core/random.js'
import { EtcdError } from '../../agent/etcd/model/errors.js'
import type { LeaderKey } from '../../agent/etcd/model/types.js'
import { type LeaseApi, LeaseKeeper, type LeaseLossReason } from './lease-keeper.js'

// "One coordinator at a time": a candidate holds a lease, campaigns in etcd's election
// API, and counts as leader only while it has won *and* its lease is certainly alive
// (LeaseKeeper's bound). Losing the lease ends leadership at once, without asking
// etcd; the next candidate can only win after etcd expires the lease, which is later.

export interface CandidateInit {
  /** The election, e.g. `/homecloud/coordinator`. */
  election: string
  /** What the leader publishes (its node id). */
  value: string
  ttlSeconds: number
  safetyMarginMs?: number
}

/** What a candidate needs from etcd (the etcd adapter's EtcdClient is one): leases and the election API. */
export interface ElectionApi extends LeaseApi {
  campaign(name: string, lease: bigint, value: string, opts?: { signal?: AbortSignal }): Promise<LeaderKey>
  resign(leader: LeaderKey): Promise<void>
}

export interface CandidateComponents {
  client: ElectionApi
  clock: Clock
  logger: Logger
  /** For the keepalive loop's retry jitter (the simulator's is seeded). */
  random?: Random
}

export class Candidate {
  private readonly keeper: LeaseKeeper
  private won: LeaderKey | undefined
  private readonly abort = new AbortController()
  private readonly lostListeners = new Set<(reason: LeaseLossReason) => void>()

  constructor(
    private readonly init: CandidateInit,
    private readonly c: CandidateComponents,
  ) {
    this.keeper = new LeaseKeeper(
      { ttlSeconds: init.ttlSeconds, safetyMarginMs: init.safetyMarginMs },
      { api: c.client, clock: c.clock, logger: c.logger, ...(c.random ? { random: c.random } : {}) },
    )
    this.keeper.onLost((reason) => {
      this.abort.abort()
      const wasLeader = this.won !== undefined
      this.won = undefined
      if (wasLeader) c.logger.warn({ election: init.election, reason }, 'leadership lost')
      for (const l of this.lostListeners) l(reason)
    })
  }

  /** Resolves once this candidate leads; throws ETCD_LEASE_LOST if the lease goes first. */
  async campaign(): Promise<LeaderKey> {
    const lease = await this.keeper.start()
    try {
      const key = await this.c.client.campaign(this.init.election, lease, this.init.value, {
        signal: this.abort.signal,
      })
      if (!this.keeper.isValid()) throw this.lostError()
      this.won = key
      this.c.logger.info({ election: this.init.election, key: key.key }, 'leadership won')
      return key
    } catch (err) {
      if (this.abort.signal.aborted || !this.keeper.isValid()) throw this.lostError(err)
      throw err
    }
  }

  /** Leader now: won, and the lease is certainly alive. Check before every action. */
  isLeader(): boolean {
    return this.won !== undefined && this.keeper.isValid()
  }

  get leaderKey(): LeaderKey | undefined {
    return this.isLeader() ? this.won : undefined
  }

  get leaseId(): bigint | undefined {
    return this.keeper.id
  }

  onLost(listener: (reason: LeaseLossReason) => void): () => void {
    this.lostListeners.add(listener)
    return () => this.lostListeners.delete(listener)
  }

  /** Steps down and withdraws: resign if leading, revoke the lease (so the next wins at once). */
  async resign(): Promise<void> {
    const won = this.won
    this.won = undefined
    this.abort.abort()
    if (won) await this.c.client.resign(won).catch(() => {})
    await this.keeper.stop({ revoke: true })
  }

  /** Stops keeping the lease alive without telling etcd: what a crash looks like to others. */
  async abandon(): Promise<void> {
    this.won = undefined
    this.abort.abort()
    await this.keeper.stop({ revoke: false })
  }

  private lostError(cause?: unknown): EtcdError {
    return new EtcdError(
      'ETCD_LEASE_LOST',
      `the lease for ${this.init.election} was lost (${this.keeper.lossReason ?? 'withdrawn'})`,
      {},
      undefined,
      cause,
    )
  }
}
