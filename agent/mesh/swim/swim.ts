import { type Random, randomBelow } from '../../core/random.js'
import { AntiEntropy } from './anti-entropy.js'
import { Awareness } from './awareness.js'
import { pushPullIntervalMs, type SwimConfig } from './config.js'
import type { MemberTable } from './members.js'
import { News } from './news.js'
import { Prober, shuffle } from './prober.js'
import type { RecordMeta, SwimEffect, SwimMember, SwimMessage, Update } from './types.js'

/** A member we hold dead is told so at most this often. */
const TELL_DEAD_EVERY_MS = 1000
/** Records asked for in one `want`. */
export const WANT_IDS_MAX = 64

export interface SwimInit<R> {
  selfId: string
  config: SwimConfig
  /** This node's record as it starts (its incarnation already above any it used before). */
  self: R
}

export interface SwimComponents<R> {
  random: Random
  meta(record: R): RecordMeta
  /** This node's record signed again at a higher incarnation (to refute a suspicion). */
  resign(incarnation: number): R
}

/**
 * SWIM membership with Lifeguard's refinements, as a state machine with no I/O (like
 * etcd's raft): the shell feeds it messages from peers (`receive`), the set of peers it
 * holds connections to (`setLinks`) and clock readings (`tick`, due at `nextWakeMono()`),
 * and carries out the effects it returns (send a message to a peer, log an event, persist
 * a refutation). Randomness is injected, so one seed replays a whole simulated cluster.
 *
 * Each period it probes one neighbour (randomised round-robin); an unanswered probe asks
 * `indirectChecks` other neighbours to try; still nothing → suspect. A suspicion becomes a
 * death after a timeout that grows with log n and shrinks as others confirm it (News).
 * Neighbours that hear of a suspicion ping the suspect at once, so confirmations — or the
 * suspect's refutation — come within one probe timeout. A node whose own probes fail
 * although its helpers stay silent too slows down (Awareness) instead of accusing.
 * News rides on probes and periodic gossip; a digest exchange now and then repairs loss.
 */
export class Swim<R> {
  private readonly news: News<R>
  private readonly awareness: Awareness
  private readonly prober: Prober<R>
  private readonly sync: AntiEntropy<R>
  private nextGossipMono = 0
  private lastGossipMono = Number.NEGATIVE_INFINITY
  private left = false
  /** When each member we hold dead was last told so. */
  private readonly toldDead = new Map<string, number>()
  private nextPushPullMono = 0
  private expectedWakeMono = Number.POSITIVE_INFINITY
  private out: SwimEffect<R>[] = []

  constructor(
    private readonly init: SwimInit<R>,
    private readonly c: SwimComponents<R>,
  ) {
    this.awareness = new Awareness(init.config)
    this.news = new News(init.selfId, init.config, init.self, {
      meta: c.meta,
      resign: c.resign,
      emit: (e) => this.out.push(e),
      onRefute: () => this.awareness.apply(1),
    })
    this.sync = new AntiEntropy(init.config, this.news, c.meta, (to, msg) => this.send(to, msg))
    this.prober = new Prober({
      selfId: init.selfId,
      config: init.config,
      random: c.random,
      news: this.news,
      awareness: this.awareness,
      send: (to, msg) => this.send(to, msg),
      piggyback: () => this.piggyback(),
    })
  }

  get selfId(): string {
    return this.init.selfId
  }

  get table(): MemberTable<R> {
    return this.news.table
  }

  get incarnation(): number {
    return this.news.selfMetaNow.incarnation
  }

  get selfRecord(): R {
    return this.news.selfRecord
  }

  /** The local health score (0 = healthy). */
  get health(): number {
    return this.awareness.value
  }

  /** The event-loop lag this node's judgements of others wait out now (0 = none measured). */
  get lagMs(): number {
    return this.awareness.lagMs
  }

  /**
   * The shell's timer fired `lagMs` later than asked: this node's event loop is behind.
   * Its health score rises with it (longer periods and timeouts), it accuses nobody while
   * the lag lasts, and its suspicion deadlines wait the lag out (see Awareness).
   */
  observeLag(lagMs: number, nowMono: number): void {
    this.awareness.observeLag(lagMs, nowMono)
  }

  members(): SwimMember<R>[] {
    return this.news.table.all()
  }

  /** Members not dead, this node included: the n timings scale with. */
  size(): number {
    return this.news.size()
  }

  /** Would this record change anything here? (The shell asks before checking its signature.) */
  isNews(record: R): boolean {
    return this.news.isNews(record)
  }

  /** Our own record changed (roles, addresses): spread it. */
  announce(record: R, nowMono: number): SwimEffect<R>[] {
    this.begin(nowMono)
    this.news.setSelf(record)
    return this.end(nowMono)
  }

  /** The peers this node holds connections to now (members or not). */
  setLinks(ids: Iterable<string>, nowMono: number): SwimEffect<R>[] {
    this.begin(nowMono)
    const next = new Set([...ids].filter((id) => id !== this.selfId))
    // A new link is synced unless this node synced recently: a newcomer whose links open
    // all at once must not be sent the whole view by every one of them.
    const links = this.prober.links
    // Synced or not, the new neighbour gets our record: one it holds no record of would
    // neither probe us nor gossip to us until our announcement reached it the long way.
    for (const id of next) {
      if (links.has(id)) continue
      if (this.sync.maySync(nowMono)) this.sync.sendDigest(id, true, nowMono)
      else this.send(id, { t: 'gossip', gossip: [{ kind: 'alive', record: this.news.selfRecord }] })
    }
    for (const id of links) if (!next.has(id)) this.sync.linkClosed(id)
    this.prober.links = next
    // The link to the member we are pinging closed (shed, or it went away): ask others now.
    this.prober.linksChanged()
    return this.end(nowMono)
  }

  /**
   * Members this node should be linked to but is not (its dials fail): they are probed
   * through linked members, so a member nobody can reach directly is still judged.
   */
  setWatch(ids: Iterable<string>): void {
    this.prober.watch = new Set(ids)
  }

  /** A digest exchange with `id` now (say, once this node holds its certificate). */
  syncWith(id: string, nowMono: number): SwimEffect<R>[] {
    this.begin(nowMono)
    if (this.prober.links.has(id)) this.sync.sendDigest(id, true, nowMono)
    return this.end(nowMono)
  }

  /** Has a digest exchange with `id` completed (a link to it has done its first job)? */
  exchangedWith(id: string): boolean {
    return this.sync.exchangedWith(id)
  }

  /**
   * This node is stopping: tell the neighbours it is gone (a death it declares itself),
   * so nobody waits out a suspicion for it.
   */
  leave(nowMono: number): SwimEffect<R>[] {
    this.begin(nowMono)
    this.left = true
    const gossip: Update<R>[] = [
      { kind: 'dead', id: this.selfId, incarnation: this.incarnation, from: this.selfId },
    ]
    for (const id of this.prober.links) this.send(id, { t: 'gossip', gossip })
    return this.end(nowMono)
  }

  /** Forget a member for good (revoked): no state, no timers, no news about it. */
  forget(id: string): void {
    this.news.forget(id)
    this.prober.probes.forget(id)
  }

  nextWakeMono(): number {
    return Math.min(
      this.prober.probes.nextDeadline(),
      this.news.suspicions.nextDeadline(this.pullLeadMs()) + this.awareness.lagMs,
      this.news.hasNews() ? this.nextGossipMono : Number.POSITIVE_INFINITY,
      this.nextPushPullMono,
    )
  }

  tick(nowMono: number): SwimEffect<R>[] {
    if (this.left) return []
    this.begin(nowMono)
    // A loop running late read its timers before the messages that waited meanwhile (a
    // refutation among them): suspicions run out only once that lag is waited out too.
    const judgedMono = nowMono - this.awareness.lagMs
    for (const id of this.news.suspicions.pullDue(judgedMono, this.pullLeadMs())) this.prober.askForNews(id)
    this.news.declareDue(judgedMono)
    this.prober.step(nowMono)
    if (nowMono >= this.nextGossipMono) this.gossip(nowMono)
    // Records we asked for that never came: asked again of a neighbour; given up, a digest
    // exchange fetches them.
    const stale = this.news.stalePulls(nowMono)
    if (stale.again.length > 0) this.askNeighbour(stale.again)
    if (nowMono >= this.nextPushPullMono || (stale.lost > 0 && this.sync.maySync(nowMono)))
      this.pushPull(nowMono)
    return this.end(nowMono)
  }

  receive(from: string, msg: SwimMessage<R>, nowMono: number): SwimEffect<R>[] {
    // Gone for good: answering now would only refute our own farewell.
    if (this.left) return []
    this.begin(nowMono)
    const incarnation = this.incarnation
    this.news.staleAboutSelf = false
    if ('gossip' in msg) this.applyNews(from, msg.gossip, nowMono)
    // Refuted because of what `from` said, or `from` passed on an old claim about us:
    // either way `from` holds a wrong belief about us, and gossip may never correct it.
    if (this.incarnation > incarnation || this.news.staleAboutSelf)
      this.send(from, { t: 'gossip', gossip: [{ kind: 'alive', record: this.news.selfRecord }] })
    this.tellIfDead(from, nowMono)
    switch (msg.t) {
      case 'ping':
        this.prober.onPing(from, msg.seq, msg.target)
        break
      case 'ack':
        this.prober.onAck(from, msg.seq, msg.links)
        break
      case 'ping-req':
        this.prober.onPingReq(from, msg.seq, msg.target, nowMono)
        break
      case 'nack':
        this.prober.probes.nack(msg.seq)
        break
      case 'digest':
        this.sync.onDigest(from, msg, this.prober.links.has(from), nowMono)
        break
      case 'want':
        this.sync.sendRecords(from, msg.ids.slice(0, WANT_IDS_MAX))
        break
    }
    return this.end(nowMono)
  }

  // ── news ───────────────────────────────────────────────────────────────────

  /**
   * News from `from`. Records it announced that we lack are pulled from it; a suspicion
   * someone else raised about a neighbour is checked at once by pinging the suspect.
   */
  private applyNews(from: string, updates: readonly Update<R>[], nowMono: number): void {
    const { suspected, wanted } = this.news.applyAll(from, updates, nowMono, this.prober.links.has(from))
    for (let i = 0; i < wanted.length; i += WANT_IDS_MAX)
      this.send(from, { t: 'want', ids: wanted.slice(i, i + WANT_IDS_MAX) })
    this.prober.checkSuspects(suspected, nowMono)
  }

  /** Records still lacked, asked of one random linked member (each holder answers what it has). */
  private askNeighbour(ids: string[]): void {
    const to = shuffle(this.c.random, [...this.prober.linkedMembers()])[0]
    if (to === undefined) return
    for (let i = 0; i < ids.length; i += WANT_IDS_MAX)
      this.send(to, { t: 'want', ids: ids.slice(i, i + WANT_IDS_MAX) })
  }

  /**
   * A member we hold dead is talking to us: it cannot know, or it would have come back
   * with a higher incarnation. Tell it (at most once a second), so it refutes at once.
   */
  private tellIfDead(from: string, nowMono: number): void {
    const m = this.news.table.get(from)
    if (m?.state !== 'dead') return
    const last = this.toldDead.get(from)
    if (last !== undefined && nowMono - last < TELL_DEAD_EVERY_MS) return
    if (this.toldDead.size >= this.init.config.membersMax) this.toldDead.clear()
    this.toldDead.set(from, nowMono)
    this.send(from, {
      t: 'gossip',
      gossip: [{ kind: 'dead', id: from, incarnation: m.incarnation, from: this.selfId }],
    })
  }

  /** Two round trips before a suspicion's deadline: time to hear back from a neighbour. */
  private pullLeadMs(): number {
    return 2 * this.awareness.scale(this.init.config.probeTimeoutMs)
  }

  // ── gossip and anti-entropy ────────────────────────────────────────────────

  private piggyback(): Update<R>[] {
    return this.news.take(this.init.config.piggybackBytesMax)
  }

  /** Members this node can send to: linked and known (the dead too: they may refute). */
  private gossipTargets(): string[] {
    return [...this.prober.links].filter((id) => this.news.table.get(id) !== undefined)
  }

  private gossip(nowMono: number): void {
    const cfg = this.init.config
    this.nextGossipMono = nowMono + cfg.gossipIntervalMs
    this.lastGossipMono = nowMono
    if (!this.news.hasNews()) return
    const targets = shuffle(this.c.random, this.gossipTargets()).slice(0, cfg.gossipFanout)
    for (const id of targets) {
      const gossip = this.news.take(cfg.gossipBytesMax)
      if (gossip.length === 0) break
      this.send(id, { t: 'gossip', gossip })
    }
  }

  private pushPull(nowMono: number): void {
    const interval = pushPullIntervalMs(this.init.config, this.size())
    // Jittered so a cluster started at once does not sync in waves.
    this.nextPushPullMono = nowMono + interval / 2 + this.c.random.next() * interval
    // Any link, a peer we hold no record of included: an exchange is how it becomes known
    // (a joiner that could not take our records when its link opened, say).
    const targets = [...this.prober.links]
    if (targets.length === 0) return
    this.sync.sendDigest(targets[randomBelow(this.c.random, targets.length)]!, true, nowMono)
  }

  // ── plumbing ───────────────────────────────────────────────────────────────

  /**
   * Every entry point starts here. A call much later than the wake-up we asked for means
   * this process was stopped or starved: whatever timed out meanwhile proves nothing about
   * the others, so in-flight probes are dropped and suspicion deadlines move by the stall.
   */
  private begin(nowMono: number): void {
    this.out = []
    this.awareness.at(nowMono)
    const late = nowMono - this.expectedWakeMono
    if (late > this.init.config.stallToleranceMs) {
      this.prober.probes.abandon(nowMono)
      this.news.suspicions.postpone(late)
      this.awareness.apply(1)
    }
  }

  private end(nowMono: number): SwimEffect<R>[] {
    // A suspicion, a death or a refutation races timers all over the cluster: it leaves
    // now rather than at the next gossip period (but not more often than four times one).
    if (this.news.takeUrgent() && nowMono - this.lastGossipMono >= this.init.config.gossipIntervalMs / 4)
      this.gossip(nowMono)
    // A deadline already passed is due now, not late: it waited for news, not for us.
    this.expectedWakeMono = Math.max(this.nextWakeMono(), nowMono)
    return this.out
  }

  private send(to: string, msg: SwimMessage<R>): void {
    this.out.push({ kind: 'send', to, msg })
  }
}
