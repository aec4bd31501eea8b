export interface Probe {
  target: string
  seq: number
  directDeadline: number
  periodEnd: number
  acked: boolean
  indirect: boolean
  expectedNacks: number
  nacks: number
}

export type AckHit =
  | { kind: 'probe'; direct: boolean }
  | { kind: 'relay'; origin: string; originSeq: number }
  | { kind: 'confirm' }
  | { kind: 'none' }

export type ProbeVerdict = { kind: 'ok' } | { kind: 'failed'; missingNacks: number; askedNone: boolean }

/** A neighbour's links are remembered from its acks for at most this many neighbours. */
const LINKS_REMEMBERED_MAX = 1024
/** Relayed pings and confirmation pings outstanding at once (a flood cannot grow them). */
const OUTSTANDING_MAX = 256

/**
 * The bookkeeping of probing, with no policy: this node's one probe per period, the
 * pings it relays for others (ping-req) and the pings that check a suspicion raised by
 * someone else. Sequence numbers tie acks to what they answer.
 */
export class Probes {
  current: Probe | null = null
  nextStartMono = 0
  private seq = 0
  private readonly relays = new Map<number, { origin: string; originSeq: number; deadline: number }>()
  private readonly confirms = new Map<
    number,
    { target: string; incarnation: number; deadline: number; retried: boolean; timeoutMs: number }
  >()
  private readonly linksBy = new Map<string, string[]>()

  start(target: string, nowMono: number, timeoutMs: number, periodMs: number): number {
    const seq = ++this.seq
    this.current = {
      target,
      seq,
      directDeadline: nowMono + timeoutMs,
      periodEnd: nowMono + periodMs,
      acked: false,
      indirect: false,
      expectedNacks: 0,
      nacks: 0,
    }
    this.nextStartMono = nowMono + periodMs
    return seq
  }

  /** Nobody to probe: look again next period. */
  idle(nextStartMono: number): void {
    this.nextStartMono = nextStartMono
  }

  /** The direct ping went unanswered; `asked` neighbours are asked to try. */
  goIndirect(asked: number): number {
    const p = this.current
    if (!p) throw new Error('assertion failed: indirect probe without a probe')
    p.indirect = true
    p.expectedNacks = asked
    return p.seq
  }

  ack(seq: number, from: string, links: readonly string[]): AckHit {
    const p = this.current
    if (p && p.seq === seq) {
      const direct = from === p.target
      if (direct) this.remember(from, links)
      const first = !p.acked
      p.acked = true
      return first ? { kind: 'probe', direct } : { kind: 'none' }
    }
    const r = this.relays.get(seq)
    if (r) {
      this.relays.delete(seq)
      this.remember(from, links)
      return { kind: 'relay', origin: r.origin, originSeq: r.originSeq }
    }
    if (this.confirms.delete(seq)) return { kind: 'confirm' }
    return { kind: 'none' }
  }

  nack(seq: number): void {
    const p = this.current
    if (p && p.seq === seq && p.indirect) p.nacks++
  }

  /** The period is over: how did the probe go? */
  finish(): ProbeVerdict {
    const p = this.current
    this.current = null
    if (!p || p.acked) return { kind: 'ok' }
    return {
      kind: 'failed',
      missingNacks: Math.max(0, p.expectedNacks - p.nacks),
      askedNone: p.expectedNacks === 0,
    }
  }

  /** Ping `target` for `origin`; returns the sequence number of our own ping. */
  relay(origin: string, originSeq: number, deadline: number): number | null {
    if (this.relays.size >= OUTSTANDING_MAX) return null
    const seq = ++this.seq
    this.relays.set(seq, { origin, originSeq, deadline })
    return seq
  }

  /**
   * Ping a member someone else suspects; unanswered within `timeoutMs`, ping once more;
   * unanswered again, we confirm. Two tries: under message loss one lost ping must not
   * become a confirmation (those bring the suspicion's deadline closer).
   */
  confirm(target: string, incarnation: number, nowMono: number, timeoutMs: number): number | null {
    if (this.confirms.size >= OUTSTANDING_MAX) return null
    for (const c of this.confirms.values()) if (c.target === target) return null
    const seq = ++this.seq
    this.confirms.set(seq, { target, incarnation, deadline: nowMono + timeoutMs, retried: false, timeoutMs })
    return seq
  }

  expiredRelays(nowMono: number): { origin: string; originSeq: number }[] {
    const out: { origin: string; originSeq: number }[] = []
    for (const [seq, r] of this.relays)
      if (r.deadline <= nowMono) {
        this.relays.delete(seq)
        out.push(r)
      }
    return out
  }

  /** Confirmation pings due: `retry` ones get a second ping (same seq), the others are confirmed. */
  expiredConfirms(nowMono: number): { target: string; incarnation: number; seq: number; retry: boolean }[] {
    const out: { target: string; incarnation: number; seq: number; retry: boolean }[] = []
    for (const [seq, c] of this.confirms) {
      if (c.deadline > nowMono) continue
      if (!c.retried) {
        c.retried = true
        c.deadline = nowMono + c.timeoutMs
        out.push({ target: c.target, incarnation: c.incarnation, seq, retry: true })
      } else {
        this.confirms.delete(seq)
        out.push({ target: c.target, incarnation: c.incarnation, seq, retry: false })
      }
    }
    return out
  }

  /** This process stalled: whatever was in flight proves nothing about anyone else. */
  abandon(nowMono: number): void {
    this.current = null
    this.relays.clear()
    this.confirms.clear()
    this.nextStartMono = nowMono
  }

  linksOf(id: string): readonly string[] {
    return this.linksBy.get(id) ?? []
  }

  forget(id: string): void {
    this.linksBy.delete(id)
  }

  nextDeadline(): number {
    let next = this.nextStartMono
    const p = this.current
    if (p) next = p.acked || p.indirect ? p.periodEnd : p.directDeadline
    for (const r of this.relays.values()) next = Math.min(next, r.deadline)
    for (const c of this.confirms.values()) next = Math.min(next, c.deadline)
    return next
  }

  private remember(id: string, links: readonly string[]): void {
    if (links.length === 0) return
    if (!this.linksBy.has(id) && this.linksBy.size >= LINKS_REMEMBERED_MAX) this.linksBy.clear()
    this.linksBy.set(id, [...links])
  }
}
