import type { MemberEvent, MemberState, RecordMeta, SwimMember } from './types.js'

/** What applying one piece of news did. */
export type Applied =
  /** Nothing: old news, unknown member, or about a member already in that state. */
  | { kind: 'ignored'; reason: 'stale' | 'unknown' | 'table-full' | 'dead' }
  /** The member's record or state changed: spread the news on. */
  | { kind: 'changed'; event?: MemberEvent }
  /** Already suspect at this incarnation: the claim may count as a confirmation. */
  | { kind: 'already-suspect' }

/**
 * The member list and SWIM's precedence rules, without timers. At one incarnation
 * alive < suspect < dead, and only a higher incarnation overrules suspect or dead, so old
 * gossip can never resurrect a member while the member itself always can (it bumps).
 * Record content can change within an incarnation (`version`); that updates the record
 * but never the state. This node itself is not in the table.
 */
export class MemberTable<R> {
  private readonly members = new Map<string, SwimMember<R>>()
  /** Members not dead, kept as states change (asked on every message). */
  private live = 0

  constructor(private readonly membersMax: number) {}

  get(id: string): SwimMember<R> | undefined {
    return this.members.get(id)
  }

  all(): SwimMember<R>[] {
    return [...this.members.values()]
  }

  /** Members not dead, this node excluded. */
  liveCount(): number {
    return this.live
  }

  /** Would this record change anything? Cheap: the shell asks before checking a signature. */
  isNews(meta: RecordMeta): boolean {
    const m = this.members.get(meta.id)
    if (!m) return true
    if (m.state === 'dead') return meta.incarnation > m.incarnation
    return (
      meta.incarnation > m.recordIncarnation ||
      (meta.incarnation === m.recordIncarnation && meta.version > m.version)
    )
  }

  applyAlive(record: R, meta: RecordMeta, nowMono: number): Applied {
    const m = this.members.get(meta.id)
    if (!m) {
      if (!this.makeRoom()) return { kind: 'ignored', reason: 'table-full' }
      this.members.set(meta.id, {
        id: meta.id,
        record,
        recordIncarnation: meta.incarnation,
        version: meta.version,
        incarnation: meta.incarnation,
        state: 'alive',
        stateSinceMono: nowMono,
        deadIncarnation: null,
      })
      this.live++
      return { kind: 'changed', event: { kind: 'joined', id: meta.id, incarnation: meta.incarnation } }
    }
    if (!this.isNews(meta)) return { kind: 'ignored', reason: m.state === 'dead' ? 'dead' : 'stale' }
    const ev = { id: meta.id, incarnation: meta.incarnation }
    const before = m.state
    m.record = record
    m.recordIncarnation = meta.incarnation
    m.version = meta.version
    // Only a higher incarnation overrules suspect or dead; otherwise the content changed.
    if (meta.incarnation <= m.incarnation) return { kind: 'changed', event: { kind: 'updated', ...ev } }
    m.incarnation = meta.incarnation
    if (before === 'alive') return { kind: 'changed', event: { kind: 'updated', ...ev } }
    m.state = 'alive'
    m.stateSinceMono = nowMono
    if (before === 'dead') this.live++
    return { kind: 'changed', event: { kind: before === 'dead' ? 'rejoined' : 'refuted', ...ev } }
  }

  applySuspect(id: string, incarnation: number, nowMono: number): Applied {
    const m = this.members.get(id)
    if (!m) return { kind: 'ignored', reason: 'unknown' }
    if (m.state === 'dead') return { kind: 'ignored', reason: 'dead' }
    if (incarnation < m.incarnation) return { kind: 'ignored', reason: 'stale' }
    if (m.state === 'suspect' && incarnation === m.incarnation) return { kind: 'already-suspect' }
    m.incarnation = incarnation
    m.state = 'suspect'
    m.stateSinceMono = nowMono
    return { kind: 'changed', event: { kind: 'suspect', id, incarnation } }
  }

  applyDead(id: string, incarnation: number, nowMono: number): Applied {
    const m = this.members.get(id)
    if (!m) return { kind: 'ignored', reason: 'unknown' }
    if (m.state === 'dead') return { kind: 'ignored', reason: 'dead' }
    if (incarnation < m.incarnation) return { kind: 'ignored', reason: 'stale' }
    m.incarnation = incarnation
    m.state = 'dead'
    m.stateSinceMono = nowMono
    m.deadIncarnation = incarnation
    this.live--
    return { kind: 'changed', event: { kind: 'dead', id, incarnation } }
  }

  /** A member learnt from a digest exchange, unknown here until now, in the state the peer holds. */
  adopt(record: R, meta: RecordMeta, state: MemberState, incarnation: number, nowMono: number): boolean {
    if (this.members.has(meta.id) || !this.makeRoom()) return false
    this.members.set(meta.id, {
      id: meta.id,
      record,
      recordIncarnation: meta.incarnation,
      version: meta.version,
      incarnation: Math.max(incarnation, meta.incarnation),
      state,
      stateSinceMono: nowMono,
      deadIncarnation: state === 'dead' ? Math.max(incarnation, meta.incarnation) : null,
    })
    if (state !== 'dead') this.live++
    return true
  }

  /** Forget a member entirely (revoked: it may not come back at any incarnation). */
  forget(id: string): boolean {
    const m = this.members.get(id)
    if (m && m.state !== 'dead') this.live--
    return this.members.delete(id)
  }

  private makeRoom(): boolean {
    if (this.members.size < this.membersMax) return true
    let oldest: SwimMember<R> | undefined
    for (const m of this.members.values()) {
      if (m.state === 'dead' && (!oldest || m.stateSinceMono < oldest.stateSinceMono)) oldest = m
    }
    if (!oldest) return false
    this.members.delete(oldest.id)
    return true
  }
}
