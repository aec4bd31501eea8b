import { Candidate } from '../../control/lease/election.js'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import type { EtcdClient } from '../etcd/client.js'
import type { LeaderKey } from '../etcd/model/types.js'

// The coordinator's seat: while this node is an etcd voter it campaigns in etcd's
// election; whoever holds the election (and a lease it is certain of) coordinates.
// A lost lease, or ceasing to be a voter, ends the term; the next campaign starts
// with a new lease. A controller with one key checks every second (decideSeat, pure).

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
  random?: Random
  isVoter(): boolean
  /** Our member's client; `generation` changes when it is replaced (new certificates). */
  client(): EtcdClient | null
  generation(): number
  onChange?(leader: boolean): void
}

export type SeatAction =
  | { kind: 'none' }
  | { kind: 'campaign' }
  | { kind: 'drop'; why: string; resign: boolean }

/** What the seat does now (pure): campaign as a voter, leave when no longer one or the client changed. */
export function decideSeat(o: {
  voter: boolean
  /** The generation of our member's client when the running campaign began; null without one. */
  campaignGeneration: number | null
  generation: number
  hasClient: boolean
}): SeatAction {
  const campaigning = o.campaignGeneration !== null
  if (!o.voter)
    return campaigning ? { kind: 'drop', why: 'no longer an etcd voter', resign: true } : { kind: 'none' }
  if (campaigning && o.campaignGeneration !== o.generation)
    return { kind: 'drop', why: 'etcd certificates changed', resign: false }
  if (campaigning || !o.hasClient) return { kind: 'none' }
  return { kind: 'campaign' }
}

export class CoordinatorSeat {
  private candidate: { c: Candidate; generation: number } | null = null
  private readonly ctl: Controller
  private leading = false

  constructor(
    private readonly init: SeatInit,
    private readonly c: SeatComponents,
  ) {
    this.ctl = new Controller(
      {
        name: 'coordinator-seat',
        keys: () => ['seat'],
        resyncMs: init.checkMs ?? 1000,
        sync: () => this.check(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  start(): void {
    this.ctl.start()
  }

  async stop(): Promise<void> {
    await this.ctl.stop()
    await this.drop('stopping', true)
  }

  isLeader(): boolean {
    return this.candidate?.c.isLeader() ?? false
  }

  leaderKey(): LeaderKey | undefined {
    return this.candidate?.c.leaderKey
  }

  private check(): void {
    this.notice()
    const voter = this.c.isVoter()
    const campaignGeneration = this.candidate?.generation ?? null
    // Asked only when about to campaign: asking creates the client (a new generation).
    const client = voter && campaignGeneration === null ? this.c.client() : null
    const action = decideSeat({
      voter,
      campaignGeneration,
      generation: this.c.generation(),
      hasClient: client !== null,
    })
    if (action.kind === 'drop') void this.drop(action.why, action.resign)
    if (action.kind !== 'campaign' || !client) return
    const cand = new Candidate(
      { election: this.init.election, value: this.init.nodeId, ttlSeconds: this.init.ttlSeconds },
      {
        client,
        clock: this.c.clock,
        logger: this.c.log,
        ...(this.c.random ? { random: this.c.random } : {}),
      },
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
