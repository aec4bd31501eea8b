import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { StatsHistory } from './history.js'
import type { Sampler } from './samplers.js'
import { type NodeStatsView, StatsAnswer, type StatsSource } from './schema.js'

// Every node samples itself (cheap, local, always) and keeps the last hour. Other
// nodes' numbers are pulled from them over the agent API (7443), only while someone
// reads this node's status page or API: nothing crosses the network for charts nobody
// looks at. A pull asks for what is newer than the last reading held, so after the
// first one it carries one or two readings (~150 bytes a peer every 15 s; measured by
// homecloud_peer_api_bytes_total{what="stats"}). Heartbeat records stay as small as they were.

export interface StatsInit {
  sampleMs?: number
  /** Pull peers while the view was read within this long. */
  demandMs?: number
  peersMax?: number
}

export interface StatsPeer {
  id: string
  /** https://ADDRESS:7443/ */
  url: string
}

export interface StatsComponents {
  clock: Clock
  random: Random
  log: Logger
  counters?: Counters
  sampler: Sampler
  /** Alive members other than this node. */
  peers(): StatsPeer[]
  /** GET on a peer's 7443 with mutual TLS, its certificate naming `id` (agent/api/peer-client.ts). */
  fetch(peer: StatsPeer, path: string): Promise<unknown>
}

export const sampleMsDefault = 15_000
export const demandMsDefault = 120_000
export const statsPeersMaxDefault = 256
export const statsAnswerBytesMax = 64 * 1024

export class NodeStats {
  private readonly own = new StatsHistory()
  private readonly others = new Map<string, { source: StatsSource; history: StatsHistory }>()
  private readonly sampling: Controller<'self'>
  private readonly pulling: Controller<string>
  private demandUntilMono = -1

  constructor(
    private readonly init: StatsInit,
    private readonly c: StatsComponents,
  ) {
    const every = init.sampleMs ?? sampleMsDefault
    this.sampling = new Controller<'self'>(
      { name: 'stats-sample', keys: () => ['self'], resyncMs: every, sync: () => this.sampleSelf() },
      c,
    )
    this.pulling = new Controller<string>(
      {
        name: 'stats-pull',
        keys: () => (this.wanted() ? c.peers().map((p) => p.id) : []),
        resyncMs: every,
        workersMax: 2,
        queueKeysMax: init.peersMax ?? statsPeersMaxDefault,
        backoff: { initialDelayMs: every, delayMsMax: 4 * every },
        sync: (id) => this.pull(id),
      },
      c,
    )
  }

  start(): void {
    this.sampling.start()
    this.pulling.start()
  }

  async stop(): Promise<void> {
    await Promise.all([this.sampling.stop(), this.pulling.stop()])
  }

  /** Someone is reading: keep peers' numbers fresh for a while. */
  touch(): void {
    const first = !this.wanted()
    this.demandUntilMono = this.c.clock.monoMs() + (this.init.demandMs ?? demandMsDefault)
    if (first) for (const p of this.c.peers()) this.pulling.add(p.id)
  }

  /** GET /api/v1/stats?since=MS on 7443. */
  answer(sinceMs: number): StatsAnswer {
    return { source: this.c.sampler.source, samples: this.own.since(sinceMs) }
  }

  /** For the view: this node's own numbers, or the last pulled from a peer. */
  viewOf(id: string, self: boolean): NodeStatsView | undefined {
    const now = this.c.clock.nowMs()
    if (self) return this.own.view(this.c.sampler.source, now)
    const o = this.others.get(id)
    return o?.history.view(o.source, now)
  }

  private wanted(): boolean {
    return this.c.clock.monoMs() < this.demandUntilMono
  }

  private async sampleSelf(): Promise<void> {
    this.own.add(await this.c.sampler.sample())
    this.own.prune(this.c.clock.nowMs())
  }

  private async pull(id: string): Promise<void> {
    const peer = this.c.peers().find((p) => p.id === id)
    if (!peer || !this.wanted()) return
    const held = this.others.get(id)
    const since = held?.history.latest()?.atMs ?? 0
    const parsed = StatsAnswer.safeParse(await this.c.fetch(peer, `/api/v1/stats?since=${since}`))
    if (!parsed.success) {
      this.c.counters?.inc('homecloud_stats_refused_total', { reason: 'schema' })
      throw new Error(
        `stats from ${id}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      )
    }
    const entry =
      held && held.source === parsed.data.source
        ? held
        : { source: parsed.data.source, history: new StatsHistory() }
    for (const s of parsed.data.samples) entry.history.add(s)
    entry.history.prune(this.c.clock.nowMs())
    this.others.set(id, entry)
    // Members that left the mesh take their numbers with them (the map stays bounded by the mesh).
    if (this.others.size > (this.init.peersMax ?? statsPeersMaxDefault)) {
      const known = new Set(this.c.peers().map((p) => p.id))
      for (const k of this.others.keys()) if (!known.has(k)) this.others.delete(k)
    }
  }
}
