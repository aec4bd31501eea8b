import type { Clock, Timer } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { EtcdClient, LeaderKey } from '../etcd/client.js'
import { Candidate } from '../etcd/election.js'

// The coordinator's seat: while this node is an etcd voter it campaigns in etcd's
// election; whoever holds the election (and a lease it is certain of) coordinates.
// A lost lease, or ceasing to be a voter, ends the term; the next campaign starts
// with a new lease.

export interface SeatInit {
  election: string
  nodeId: string
  ttlSeconds: number
  /** How often to look whether to campaign. */
  checkMs?: number
}

export interface SeatComponents {
  clock: Clock
  log: Logger
  isVoter(): boolean
  /** Our member's client; `generation` changes when it is replaced (new certificates). */
  client(): EtcdClient | null
  generation(): number
  onChange?(leader: boolean): void
}

export class CoordinatorSeat {
  private candidate: { c: Candidate; generation: number } | null = null
  private timer: Timer | undefined
  private stopped = false
  private leading = false

  constructor(
    private readonly init: SeatInit,
    private readonly c: SeatComponents,
  ) {}

  start(): void {
    this.timer = this.c.clock.setInterval(() => this.check(), this.init.checkMs ?? 1000)
    this.check()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.timer?.cancel()
    await this.drop('stopping', true)
  }

  isLeader(): boolean {
    return this.candidate?.c.isLeader() ?? false
  }

  leaderKey(): LeaderKey | undefined {
    return this.candidate?.c.leaderKey
  }

  private check(): void {
    if (this.stopped) return
    this.notice()
    const cur = this.candidate
    if (!this.c.isVoter()) {
      if (cur) void this.drop('no longer an etcd voter', true)
      return
    }
    if (cur && cur.generation !== this.c.generation()) {
      void this.drop('etcd certificates changed', false)
      return
    }
    if (cur) return
    const client = this.c.client()
    if (!client) return
    const cand = new Candidate(
      { election: this.init.election, value: this.init.nodeId, ttlSeconds: this.init.ttlSeconds },
      { client, clock: this.c.clock, logger: this.c.log },
    )
    const entry = { c: cand, generation: this.c.generation() }
    this.candidate = entry
    cand.onLost(() => {
      if (this.candidate === entry) this.candidate = null
      void cand.abandon()
      this.notice()
    })
    cand.campaign().then(
      () => this.notice(),
      (err) => {
        this.c.log.debug({ err: (err as Error).message }, 'campaign ended; trying again')
        if (this.candidate === entry) this.candidate = null
        void cand.abandon()
        this.notice()
      },
    )
  }

  private async drop(why: string, resign: boolean): Promise<void> {
    const cur = this.candidate
    this.candidate = null
    this.notice()
    if (!cur) return
    this.c.log.info({ why }, 'leaving the coordinator election')
    // Resigning revokes the lease, so the next coordinator need not wait for it to expire.
    await (resign ? cur.c.resign() : cur.c.abandon()).catch(() => {})
  }

  private notice(): void {
    const now = this.isLeader()
    if (now === this.leading) return
    this.leading = now
    this.c.log.info({ coordinator: now }, now ? 'this node is the coordinator' : 'no longer the coordinator')
    this.c.onChange?.(now)
  }
}
