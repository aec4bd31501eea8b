import type { Clock, Timer } from '../core/clock.js'
import type { Random } from '../core/random.js'
import { LinkBook, type LinkTimings } from './links/book.js'
import type { LinkLimits } from './links/choose.js'
import { LinkChooser } from './links/chooser.js'
import type { SwimConfig } from './swim/config.js'
import { Swim } from './swim/swim.js'
import type { MemberEvent, RecordMeta, SwimEffect, SwimMessage } from './swim/types.js'

/** "I want (or no longer want) this link"; `full`: and I refuse it for lack of room. */
export type LinkMessage = { t: 'link'; want: boolean; full: boolean }
export type LivenessMessage<R> = SwimMessage<R> | LinkMessage

/** The transport as liveness sees it: peers by node id. */
export interface PeerLinks<R> {
  /** Send to a connected peer; false when there is no connection to it now. */
  send(id: string, msg: LivenessMessage<R>): boolean
  /** Open a long-lived connection to a member (the adapter finds its address in its record). */
  dial(id: string): void
  close(id: string): void
  /** No link to any live member: reach for the configured and remembered peers. */
  dialBootstrap(): void
}

/** How membership probes, links and re-dials behave: one set of settings for the agent's mesh, its shell and the simulator. */
export interface LivenessSettings {
  swim: SwimConfig
  links: LinkLimits
  linkTimings: LinkTimings
  /** Links are re-planned this often, and whenever membership changes. */
  replanMs: number
  /**
   * One member held dead is dialled this often (with jitter). A partition heals only if
   * someone reaches across it: both sides hold the other dead and link to no one there
   * (Serf's reconnect does the same). The exchange on the new link brings both views
   * together, and the "dead" side, told so, comes back with a higher incarnation.
   */
  reconnectDeadMs: number
  /** Members dead longer than this are no longer dialled. */
  reconnectForMs: number
}

export interface LivenessInit<R> extends LivenessSettings {
  selfId: string
  self: R
}

export interface LivenessComponents<R> {
  clock: Clock
  random: Random
  transport: PeerLinks<R>
  meta(record: R): RecordMeta
  /** Our own record signed again at `incarnation` (the shell persists the incarnation first). */
  resign(incarnation: number): R
  onEvent(event: MemberEvent): void
  onRefute(incarnation: number): void
}

/** Wake-ups closer together than this are merged (a timer per microsecond helps nobody). */
const WAKE_MIN_MS = 5
/** Links pinned for other protocols at once, at most. */
const PINNED_MAX = 64
/** A burst of membership changes re-plans links once, this long after the first. */
const REPLAN_DEBOUNCE_MS = 100

/**
 * The shell around the SWIM machine and the link book, over any transport: it feeds
 * messages and connection changes in, keeps one timer at the machine's next deadline,
 * sends what the machine says, and dials and closes links as the book plans. The agent
 * runs it over hyperswarm; the simulator over its in-memory network — the same code.
 */
export class Liveness<R> {
  readonly swim: Swim<R>
  readonly book: LinkBook
  private timer: Timer | null = null
  private timerAtMono = Number.POSITIVE_INFINITY
  private replanTimer: Timer | null = null
  private replanSoon: Timer | null = null
  private reconnectTimer: Timer | null = null
  private readonly chooser: LinkChooser
  /** Links other protocols asked for, until when (monotonic). */
  private readonly pinned = new Map<string, number>()
  private stopped = true

  constructor(
    private readonly init: LivenessInit<R>,
    private readonly c: LivenessComponents<R>,
  ) {
    this.swim = new Swim(
      { selfId: init.selfId, config: init.swim, self: init.self },
      { random: c.random, meta: c.meta, resign: c.resign },
    )
    this.book = new LinkBook(init.links, init.linkTimings)
    this.chooser = new LinkChooser(init.selfId, init.links)
  }

  start(): void {
    this.stopped = false
    this.replanTimer = this.c.clock.setInterval(() => this.replan(), this.init.replanMs)
    this.apply(this.swim.tick(this.c.clock.monoMs()))
    this.replan()
    this.scheduleReconnect()
  }

  stop(): void {
    this.stopped = true
    this.timer?.cancel()
    this.replanTimer?.cancel()
    this.replanSoon?.cancel()
    this.reconnectTimer?.cancel()
  }

  connectionOpened(id: string): void {
    if (id === this.init.selfId) return
    this.book.opened(id, this.c.clock.monoMs())
    this.linksChanged()
    this.replan()
  }

  connectionClosed(id: string): void {
    this.book.closed(id)
    this.linksChanged()
  }

  receive(from: string, msg: LivenessMessage<R>): void {
    if (this.stopped) return
    const now = this.c.clock.monoMs()
    if (msg.t === 'link') {
      this.book.peerSaid(from, msg.want, msg.full, now)
      return
    }
    this.apply(this.swim.receive(from, msg, now))
  }

  /** A digest exchange with every linked peer now (this node could not use records before). */
  resync(): void {
    const now = this.c.clock.monoMs()
    for (const id of this.book.connected()) this.apply(this.swim.syncWith(id, now))
  }

  /** Plan links now (the transport just came up, say). */
  kick(): void {
    this.replan()
  }

  /** We are stopping: the neighbours hear it now (sent as it is, nothing scheduled). */
  leave(): void {
    if (this.stopped) return
    for (const e of this.swim.leave(this.c.clock.monoMs()))
      if (e.kind === 'send') this.c.transport.send(e.to, e.msg)
  }

  /** Our own record changed. */
  announce(record: R): void {
    this.apply(this.swim.announce(record, this.c.clock.monoMs()))
  }

  /** Drop a member for good (revoked) and its link. */
  expel(id: string): void {
    this.swim.forget(id)
    this.chooser.remove(id)
    if (this.book.has(id)) this.c.transport.close(id)
  }

  /**
   * Hold a link to `id` for a while although the overlay would not choose it: another
   * protocol must reach that member directly (the coordinator handing a new etcd member
   * its assignment, a joiner its signer). Dialled at once; kept until `forMs` passes.
   */
  pin(id: string, forMs: number): void {
    if (id === this.init.selfId) return
    const until = this.c.clock.monoMs() + forMs
    this.pinned.set(id, Math.max(until, this.pinned.get(id) ?? 0))
    if (this.pinned.size > PINNED_MAX) this.pinned.delete(this.pinned.keys().next().value!)
    if (!this.book.has(id)) this.replan()
  }

  /** Which peers this node wants links to now. */
  wanted(): string[] {
    const now = this.c.clock.monoMs()
    const chosen = this.chooser.wanted(this.book.avoid(now))
    if (this.pinned.size === 0) return chosen
    for (const [id, until] of this.pinned) if (until <= now) this.pinned.delete(id)
    return [...new Set([...chosen, ...this.pinned.keys()])]
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    const ms = this.init.reconnectDeadMs * (0.5 + this.c.random.next())
    this.reconnectTimer = this.c.clock.setTimeout(() => {
      this.reconnectDead()
      this.scheduleReconnect()
    }, ms)
  }

  private reconnectDead(): void {
    const now = this.c.clock.monoMs()
    const dead = this.swim
      .members()
      .filter((m) => m.state === 'dead' && now - m.stateSinceMono < this.init.reconnectForMs)
      .filter((m) => !this.book.has(m.id))
    if (dead.length === 0) return
    this.c.transport.dial(dead[Math.floor(this.c.random.next() * dead.length)]!.id)
  }

  private linksChanged(): void {
    this.apply(this.swim.setLinks(this.book.connected(), this.c.clock.monoMs()))
  }

  private replan(): void {
    if (this.stopped) return
    this.replanSoon?.cancel()
    this.replanSoon = null
    const now = this.c.clock.monoMs()
    const plan = this.book.plan(
      this.wanted(),
      (id) => this.isMember(id),
      now,
      (id) => this.swim.exchangedWith(id),
    )
    for (const t of plan.tell) this.c.transport.send(t.id, { t: 'link', want: t.want, full: false })
    for (const x of plan.close) {
      if (x.full) this.c.transport.send(x.id, { t: 'link', want: false, full: true })
      this.c.transport.close(x.id)
    }
    for (const id of plan.dial) this.c.transport.dial(id)
    this.swim.setWatch(plan.unreachable)
    if (!this.book.connected().some((id) => this.isMember(id))) this.c.transport.dialBootstrap()
  }

  private isMember(id: string): boolean {
    const m = this.swim.table.get(id)
    return m !== undefined && m.state !== 'dead'
  }

  private apply(effects: SwimEffect<R>[]): void {
    let changed = false
    for (const e of effects) {
      if (e.kind === 'send') this.c.transport.send(e.to, e.msg)
      else if (e.kind === 'refute') this.c.onRefute(e.incarnation)
      else {
        this.c.onEvent(e.event)
        const k = e.event.kind
        if (k === 'dead') this.chooser.remove(e.event.id)
        else if (k === 'joined' || k === 'rejoined') this.chooser.add(e.event.id)
        if (k !== 'updated') changed = true
      }
    }
    if (changed && !this.replanSoon && !this.stopped)
      this.replanSoon = this.c.clock.setTimeout(() => this.replan(), REPLAN_DEBOUNCE_MS)
    this.schedule()
  }

  /** One timer, at the machine's next deadline. */
  private schedule(): void {
    if (this.stopped) return
    const now = this.c.clock.monoMs()
    const at = Math.max(this.swim.nextWakeMono(), now + WAKE_MIN_MS)
    if (this.timer && at >= this.timerAtMono - 1) return
    this.timer?.cancel()
    this.timerAtMono = at
    this.timer = this.c.clock.setTimeout(() => {
      const now = this.c.clock.monoMs()
      // How late this timer fired is how far behind the event loop runs (Lifeguard's local
      // health): the machine's own timer is the drift sampler, so sampling costs no wake-up.
      this.swim.observeLag(now - this.timerAtMono, now)
      this.timer = null
      this.timerAtMono = Number.POSITIVE_INFINITY
      this.apply(this.swim.tick(now))
    }, at - now)
  }
}
