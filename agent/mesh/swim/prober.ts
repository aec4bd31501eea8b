import { type Random, randomBelow } from '../../core/random.js'
import type { Awareness } from './awareness.js'
import type { SwimConfig } from './config.js'
import type { News } from './news.js'
import { ProbeOrder } from './probe-order.js'
import { Probes } from './probes.js'
import type { SwimMessage, Update } from './types.js'

/** Neighbours asked for news of a suspect shortly before its suspicion runs out. */
const NEWS_ASKED = 2

/** What the prober shares with the rest of the machine (Swim owns all of it). */
export interface ProberContext<R> {
  readonly selfId: string
  readonly config: SwimConfig
  readonly random: Random
  readonly news: News<R>
  readonly awareness: Awareness
  send(to: string, msg: SwimMessage<R>): void
  /** News to ride on a probe or its answer. */
  piggyback(): Update<R>[]
}

/**
 * SWIM's failure detector, the probing half of the machine: each period it pings one
 * neighbour (randomised round-robin); an unanswered ping asks `indirectChecks` others to
 * try; still nothing → suspect. It answers other nodes' pings and ping-reqs, checks a
 * suspicion someone else raised by pinging the suspect at once, and scores its own health
 * (Awareness) from how its probes went.
 */
export class Prober<R> {
  readonly probes = new Probes()
  private readonly order: ProbeOrder
  /** The peers this node holds connections to now (members or not). */
  links = new Set<string>()
  /** Members this node should be linked to but is not: probed through others. */
  watch = new Set<string>()

  constructor(private readonly x: ProberContext<R>) {
    this.order = new ProbeOrder(x.random)
  }

  /** The links changed: the member we are pinging may have lost its link, so ask others now. */
  linksChanged(): void {
    const p = this.probes.current
    if (p && !p.acked && !p.indirect && !this.links.has(p.target)) this.askOthers(p.target)
  }

  step(nowMono: number): void {
    for (const r of this.probes.expiredRelays(nowMono)) this.x.send(r.origin, { t: 'nack', seq: r.originSeq })
    for (const c of this.probes.expiredConfirms(nowMono)) {
      if (c.retry) {
        if (this.links.has(c.target)) this.ping(c.target, c.seq, [])
        // A confirmation is an accusation too: not while our own loop runs late.
      } else if (this.x.awareness.accuses) this.x.news.confirm(c.target, c.incarnation)
    }
    const p = this.probes.current
    if (p && !p.acked && !p.indirect && nowMono >= p.directDeadline) {
      // Ping it once more as well (memberlist's second channel): under message loss one
      // lost ping or ack must not make a suspect of a member no neighbour of ours can reach.
      if (this.links.has(p.target)) this.ping(p.target, p.seq, [])
      this.askOthers(p.target)
    }
    if (p && nowMono >= p.periodEnd) this.finish(p.target, nowMono)
    if (!this.probes.current && nowMono >= this.probes.nextStartMono) this.start(nowMono)
  }

  private finish(target: string, nowMono: number): void {
    const verdict = this.probes.finish()
    if (verdict.kind !== 'failed') return
    this.x.awareness.apply(verdict.askedNone ? 1 : verdict.missingNacks)
    // Our own loop runs late: the ack may be waiting unread in our socket. The failure
    // counts against us (above), not against the target.
    if (!this.x.awareness.accuses) return
    const m = this.x.news.table.get(target)
    if (!m || m.state === 'dead') return
    this.x.news.applySuspect(target, m.incarnation, this.x.selfId, nowMono)
    // Tell the suspect itself too (Lifeguard's buddy system): alive, it refutes to us at once.
    const claim: Update<R> = { kind: 'suspect', id: target, incarnation: m.incarnation, from: this.x.selfId }
    if (this.links.has(target)) this.x.send(target, { t: 'gossip', gossip: [claim] })
  }

  /** Linked members not dead: whom we can ping ourselves, and ask to ping for us. */
  linkedMembers(): Set<string> {
    const out = new Set<string>()
    for (const id of this.links) {
      const m = this.x.news.table.get(id)
      if (m && m.state !== 'dead') out.add(id)
    }
    return out
  }

  /** Whom to probe: linked members, and members we should be linked to but are not. */
  private candidates(): Set<string> {
    const out = this.linkedMembers()
    for (const id of this.watch) {
      const m = this.x.news.table.get(id)
      if (m && m.state !== 'dead') out.add(id)
    }
    return out
  }

  private start(nowMono: number): void {
    const cfg = this.x.config
    const target = this.order.next(this.candidates())
    const periodMs = this.x.awareness.scale(cfg.probeIntervalMs)
    if (target === null) {
      this.probes.idle(nowMono + periodMs)
      return
    }
    const seq = this.probes.start(target, nowMono, this.x.awareness.scale(cfg.probeTimeoutMs), periodMs)
    // A member we cannot reach ourselves (our dials fail) is probed through others at once;
    // with nobody to ask, that is a failed probe like any other (and counts against us too).
    if (this.links.has(target)) this.ping(target, seq, this.x.piggyback())
    else this.askOthers(target)
  }

  /**
   * A ping; to a member we suspect it carries the suspicion itself, whatever the gossip
   * queue still holds (Lifeguard's buddy system): a suspect that is only slow, or was cut
   * off while the news went round, hears of it from the next probe and refutes.
   */
  private ping(target: string, seq: number, gossip: Update<R>[]): void {
    const m = this.x.news.table.get(target)
    const claim: Update<R>[] =
      m?.state === 'suspect'
        ? [{ kind: 'suspect', id: target, incarnation: m.incarnation, from: this.x.selfId }]
        : []
    this.x.send(target, { t: 'ping', seq, target, gossip: [...claim, ...gossip] })
  }

  /** The indirect probe: `indirectChecks` helpers, those linked to the target first. */
  private askOthers(target: string): void {
    const known = new Set(this.probes.linksOf(target))
    const others = [...this.linkedMembers()].filter((id) => id !== target)
    // Neighbours connected to the target first: the others can only say they cannot reach it.
    const ranked = [
      ...shuffle(
        this.x.random,
        others.filter((id) => known.has(id)),
      ),
      ...shuffle(
        this.x.random,
        others.filter((id) => !known.has(id)),
      ),
    ].slice(0, this.x.config.indirectChecks)
    const seq = this.probes.goIndirect(ranked.length)
    for (const id of ranked) this.x.send(id, { t: 'ping-req', seq, target, gossip: this.x.piggyback() })
    // Lifeguard's odds assume any member can reach any other, so k helpers are k more paths.
    // Over bounded links a helper not linked to the target can only nack, and a third of
    // indirect probes had no helper able to help: at 10 % loss 1.8 % of probes failed
    // (~15× the odds), and the refutations of those false suspicions filled the gossip
    // (58 KB/s per node at 200; deaths cascading at 1000). Each missing path is replaced by
    // one more direct ping, so every probe has its k + 2 chances to hear back.
    const able = ranked.filter((id) => known.has(id)).length
    if (this.links.has(target))
      for (let i = able; i < this.x.config.indirectChecks; i++) this.ping(target, seq, [])
  }

  onPing(from: string, seq: number, target: string): void {
    if (target === this.x.selfId) this.sendAck(from, seq)
  }

  private sendAck(to: string, seq: number): void {
    this.x.send(to, { t: 'ack', seq, links: [...this.links], gossip: this.x.piggyback() })
  }

  onAck(from: string, seq: number, links: string[]): void {
    const hit = this.probes.ack(seq, from, links)
    if (hit.kind === 'probe' && hit.direct) this.x.awareness.apply(-1)
    else if (hit.kind === 'relay')
      this.x.send(hit.origin, { t: 'ack', seq: hit.originSeq, links: [], gossip: this.x.piggyback() })
  }

  onPingReq(from: string, seq: number, target: string, nowMono: number): void {
    if (target === this.x.selfId) {
      this.sendAck(from, seq)
      return
    }
    const timeoutMs = this.x.awareness.scale(this.x.config.probeTimeoutMs)
    const mySeq = this.links.has(target) ? this.probes.relay(from, seq, nowMono + timeoutMs) : null
    // Not connected to it (or too busy): say so now, which still proves the asker is heard.
    if (mySeq === null) this.x.send(from, { t: 'nack', seq })
    else this.ping(target, mySeq, this.x.piggyback())
  }

  /** A suspicion someone else raised about a neighbour is checked at once by pinging it. */
  checkSuspects(suspected: readonly { id: string; incarnation: number }[], nowMono: number): void {
    for (const s of suspected) {
      if (!this.links.has(s.id)) continue
      const timeoutMs = this.x.awareness.scale(this.x.config.probeTimeoutMs)
      const seq = this.probes.confirm(s.id, s.incarnation, nowMono, timeoutMs)
      if (seq !== null) this.ping(s.id, seq, this.x.piggyback())
    }
  }

  /** Before declaring `id` dead, ask two neighbours for its record: a refutation may be there. */
  askForNews(id: string): void {
    const others = [...this.linkedMembers()].filter((x) => x !== id)
    for (const to of shuffle(this.x.random, others).slice(0, NEWS_ASKED))
      this.x.send(to, { t: 'want', ids: [id] })
  }
}

/** `xs` shuffled in place (Fisher–Yates) with the injected random source. */
export function shuffle<T>(random: Random, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = randomBelow(random, i + 1)
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}
