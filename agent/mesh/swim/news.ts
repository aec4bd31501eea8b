import { BroadcastQueue } from './broadcasts.js'
import { expectedConfirmations, retransmitLimit, type SwimConfig, suspicionBoundsMs } from './config.js'
import { type Applied, MemberTable } from './members.js'
import { Suspicions } from './suspicion.js'
import type { MemberEvent, RecordMeta, SwimEffect, Update } from './types.js'

/** A record asked for and not received is asked for again (of whoever announces it next) after this. */
const PULL_RETRY_MS = 1000
/** A record is asked for at most this many times (of the announcer, then of neighbours). */
const PULL_TRIES_MAX = 3
/** Wire sizes of a claim and an announcement, for the gossip byte budgets. */
const CLAIM_BYTES = 72
const HAVE_BYTES = 56

export interface Applied2 {
  suspected: { id: string; incarnation: number }[]
  wanted: string[]
}

function newer(a: { incarnation: number; version: number }, b: { incarnation: number; version: number }) {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.version > b.version)
}

export interface NewsComponents<R> {
  meta(record: R): RecordMeta
  /** This node's record signed again at a higher incarnation. */
  resign(incarnation: number): R
  /** Effects go here as they happen. */
  emit(effect: SwimEffect<R>): void
  /** This node had to refute a suspicion about itself (a sign it is the slow one). */
  onRefute(): void
}

/**
 * What this node knows and how news changes it: the member table, the suspicion timers,
 * and the queue of updates still to be spread. Every accepted change is queued for
 * gossip; claims about this node are refuted at once with a higher incarnation.
 */
export class News<R> {
  readonly table: MemberTable<R>
  readonly suspicions = new Suspicions()
  private readonly broadcasts: BroadcastQueue<R>
  private self: R
  private selfMeta: RecordMeta
  /** Records asked for: when, and which version. */
  private readonly pulls = new Map<
    string,
    { atMono: number; incarnation: number; version: number; tries: number }
  >()
  /**
   * Set when a claim about this node named an incarnation we already left behind: whoever
   * passed it on has not heard our refutation (the caller sends it our record).
   */
  staleAboutSelf = false
  private urgent = false
  private lastStaleCheckMono = Number.NEGATIVE_INFINITY

  constructor(
    private readonly selfId: string,
    private readonly config: SwimConfig,
    self: R,
    private readonly c: NewsComponents<R>,
  ) {
    this.table = new MemberTable(config.membersMax)
    this.broadcasts = new BroadcastQueue(config.broadcastsMax)
    this.self = self
    this.selfMeta = c.meta(self)
    this.enqueue({ kind: 'alive', record: self }, 1)
  }

  get selfRecord(): R {
    return this.self
  }

  get selfMetaNow(): RecordMeta {
    return this.selfMeta
  }

  /** Members not dead, this node included. */
  size(): number {
    return this.table.liveCount() + 1
  }

  hasNews(): boolean {
    return this.broadcasts.size > 0
  }

  setSelf(record: R): void {
    const refuting = this.c.meta(record).incarnation > this.selfMeta.incarnation
    this.self = record
    this.selfMeta = this.c.meta(record)
    this.enqueue({ kind: 'alive', record }, refuting ? 0 : 1)
  }

  isNews(record: R): boolean {
    const meta = this.c.meta(record)
    if (meta.id === this.selfId) return meta.incarnation > this.selfMeta.incarnation
    return this.table.isNews(meta)
  }

  /** Updates for one message to `to` (claims about `to` itself go too: it refutes them). */
  take(bytesMax: number): Update<R>[] {
    return this.broadcasts.take(bytesMax, retransmitLimit(this.config, this.size()))
  }

  /**
   * Apply a message's updates from peer `from`. Claims count only from a member this node
   * knows (a newcomer's own record, first in its messages, makes it one).
   * Returns the members newly suspected by others (the caller may probe them to confirm)
   * and the records `from` announced that this node lacks (the caller pulls them).
   */
  applyAll(from: string, updates: readonly Update<R>[], nowMono: number, canAsk = true): Applied2 {
    const out: Applied2 = { suspected: [], wanted: [] }
    for (const u of updates) {
      if (u.kind === 'have') {
        if (canAsk && this.wants(u, nowMono)) out.wanted.push(u.id)
        continue
      }
      const s = this.apply(from, u, nowMono)
      if (s) out.suspected.push(s)
    }
    return out
  }

  /** Records for a peer's `want`: current ones only (ours included). */
  recordsFor(ids: readonly string[]): R[] {
    const out: R[] = []
    for (const id of ids) {
      if (id === this.selfId) out.push(this.self)
      else {
        const m = this.table.get(id)
        if (m && m.state !== 'dead') out.push(m.record)
      }
    }
    return out
  }

  /**
   * Pulls unanswered for PULL_RETRY_MS. The reply is lost when the link it travels on closes
   * (links churn while many join), and by then the burst of announcements has passed: no
   * one will announce the record again. So each is asked again — of a neighbour, which by
   * now almost surely holds it — up to PULL_TRIES_MAX times (`again`); after that it is
   * given up (`lost`: a digest exchange fetches it).
   */
  stalePulls(nowMono: number): { again: string[]; lost: number } {
    const out = { again: [] as string[], lost: 0 }
    if (this.pulls.size === 0 || nowMono - this.lastStaleCheckMono < PULL_RETRY_MS / 4) return out
    this.lastStaleCheckMono = nowMono
    for (const [id, p] of this.pulls) {
      if (nowMono - p.atMono < PULL_RETRY_MS) continue
      if (!this.table.isNews({ id, incarnation: p.incarnation, version: p.version, bytes: 0 })) {
        this.pulls.delete(id)
      } else if (p.tries >= PULL_TRIES_MAX) {
        this.pulls.delete(id)
        out.lost++
      } else {
        p.atMono = nowMono
        p.tries++
        out.again.push(id)
      }
    }
    return out
  }

  /** Do we lack the announced record, and not already asked someone for it just now? */
  private wants(h: Extract<Update<R>, { kind: 'have' }>, nowMono: number): boolean {
    const meta = { id: h.id, incarnation: h.incarnation, version: h.version, bytes: 0 }
    if (h.id === this.selfId || !this.table.isNews(meta)) return false
    const p = this.pulls.get(h.id)
    if (p && nowMono - p.atMono < PULL_RETRY_MS && !newer(meta, p)) return false
    if (this.pulls.size >= this.config.membersMax) this.pulls.clear()
    this.pulls.set(h.id, { atMono: nowMono, incarnation: h.incarnation, version: h.version, tries: 1 })
    return true
  }

  /**
   * Claims count only from a member whose record we hold (certified). One we hold dead
   * counts too: after a partition each side holds the other dead, and the claims they
   * swap are how each learns it must refute.
   */
  private trusted(from: string): boolean {
    return from === this.selfId || this.table.get(from) !== undefined
  }

  private apply(from: string, u: Update<R>, nowMono: number): { id: string; incarnation: number } | null {
    switch (u.kind) {
      case 'alive':
        this.applyAlive(u.record, nowMono)
        return null
      case 'member':
        return this.applyMember(from, u, nowMono)
      case 'suspect':
        if (!this.trusted(from)) return null
        return this.applySuspect(u.id, u.incarnation, u.from, nowMono)
      case 'dead':
        if (!this.trusted(from)) return null
        this.applyDead(u.id, u.incarnation, u.from, nowMono)
        return null
      case 'have':
        return null
    }
  }

  private applyAlive(record: R, nowMono: number): void {
    const meta = this.c.meta(record)
    if (meta.id === this.selfId) {
      // Someone holds a newer record of ours than we do (our incarnation was lost): outbid it.
      const own = this.selfMeta
      if (
        meta.incarnation > own.incarnation ||
        (meta.incarnation === own.incarnation && meta.version > own.version)
      )
        this.refute(meta.incarnation)
      return
    }
    const r = this.table.applyAlive(record, meta, nowMono)
    if (r.kind !== 'changed') return
    if (this.table.get(meta.id)?.state === 'alive') this.suspicions.clear(meta.id)
    // A refutation races the suspicion's timer everywhere: it goes first.
    const urgent = r.event?.kind === 'refuted' || r.event?.kind === 'rejoined'
    this.enqueue({ kind: 'alive', record }, urgent ? 0 : 1)
    this.event(r)
  }

  private applyMember(
    from: string,
    u: Extract<Update<R>, { kind: 'member' }>,
    nowMono: number,
  ): { id: string; incarnation: number } | null {
    const meta = this.c.meta(u.record)
    const local = this.table.get(meta.id)
    if (meta.id !== this.selfId && u.state === 'dead' && (!local || local.state === 'dead')) {
      // History: a member that died before we met it is listed as dead, and no news.
      if (!local) this.table.adopt(u.record, meta, 'dead', u.incarnation, nowMono)
      return null
    }
    this.applyAlive(u.record, nowMono)
    if (u.state === 'alive' || !this.trusted(from)) return null
    // Our own evidence may say otherwise: a peer's "dead" is only a suspicion here.
    return this.applySuspect(meta.id, u.incarnation, from, nowMono)
  }

  /** Returns the suspicion if it is new here and someone else raised it. */
  applySuspect(id: string, incarnation: number, accuser: string, nowMono: number) {
    if (id === this.selfId) {
      if (incarnation >= this.selfMeta.incarnation) this.refute(incarnation)
      else this.staleAboutSelf = true
      return null
    }
    const r = this.table.applySuspect(id, incarnation, nowMono)
    const claim: Update<R> = { kind: 'suspect', id, incarnation, from: accuser }
    if (r.kind === 'already-suspect') {
      if (this.suspicions.confirm(id, accuser)) this.enqueue(claim)
      return null
    }
    if (r.kind !== 'changed') return null
    const n = this.size()
    this.suspicions.start(
      id,
      incarnation,
      accuser,
      nowMono,
      suspicionBoundsMs(this.config, n),
      expectedConfirmations(this.config, n),
    )
    this.enqueue(claim)
    this.event(r)
    return accuser === this.selfId ? null : { id, incarnation }
  }

  /** A confirmation of our own (our probe failed too); gossiped if it moved the timer. */
  confirm(id: string, incarnation: number): void {
    const m = this.table.get(id)
    if (m?.state !== 'suspect' || m.incarnation !== incarnation) return
    if (this.suspicions.confirm(id, this.selfId))
      this.enqueue({ kind: 'suspect', id, incarnation, from: this.selfId })
  }

  applyDead(id: string, incarnation: number, accuser: string, nowMono: number): void {
    if (id === this.selfId) {
      if (incarnation >= this.selfMeta.incarnation) this.refute(incarnation)
      else this.staleAboutSelf = true
      return
    }
    const r = this.table.applyDead(id, incarnation, nowMono)
    if (r.kind !== 'changed') return
    this.suspicions.clear(id)
    this.enqueue({ kind: 'dead', id, incarnation, from: accuser })
    this.event(r)
  }

  /** Suspicions whose time ran out become deaths, announced by this node. */
  declareDue(nowMono: number): void {
    for (const { id, incarnation } of this.suspicions.due(nowMono)) {
      this.suspicions.clear(id)
      this.applyDead(id, incarnation, this.selfId, nowMono)
    }
  }

  forget(id: string): void {
    this.table.forget(id)
    this.suspicions.clear(id)
    this.broadcasts.forget(id)
  }

  private refute(claimed: number): void {
    const incarnation = Math.max(claimed, this.selfMeta.incarnation) + 1
    this.c.onRefute()
    this.setSelf(this.c.resign(incarnation))
    this.c.emit({ kind: 'refute', incarnation })
  }

  /**
   * Queue news for gossip. Claims and refutations are urgent (priority 0) and travel in
   * full; a plain record change (priority 1) travels as a `have` that peers pull from.
   */
  /** Urgent news was queued since the caller last asked (it goes out without waiting a gossip period). */
  takeUrgent(): boolean {
    const u = this.urgent
    this.urgent = false
    return u
  }

  private enqueue(u: Update<R>, priority = 0): void {
    if (priority === 0) this.urgent = true
    if ((u.kind === 'alive' || u.kind === 'member') && priority > 0) {
      const m = this.c.meta(u.record)
      const have: Update<R> = { kind: 'have', id: m.id, incarnation: m.incarnation, version: m.version }
      this.broadcasts.enqueue(m.id, have, HAVE_BYTES, priority)
      return
    }
    const id = u.kind === 'alive' || u.kind === 'member' ? this.c.meta(u.record).id : u.id
    const bytes = u.kind === 'alive' || u.kind === 'member' ? this.c.meta(u.record).bytes : CLAIM_BYTES
    this.broadcasts.enqueue(id, u, bytes, priority)
  }

  private event(r: Applied): void {
    if (r.kind === 'changed' && r.event) this.c.emit({ kind: 'event', event: r.event as MemberEvent })
  }
}
