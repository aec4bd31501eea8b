import { suspicionTimeoutMs } from './config.js'

interface Suspicion {
  incarnation: number
  startMono: number
  minMs: number
  maxMs: number
  /** Confirmations wanted to reach minMs. */
  k: number
  /** Who said so: the first accuser and each confirmer once. */
  confirmers: Set<string>
  deadlineMono: number
  /** Asked the neighbours for news of the suspect shortly before the deadline. */
  pulled: boolean
}

/**
 * The suspicion timers of one node (Lifeguard's dynamic suspicion): a timer starts at its
 * maximum and each independent confirmation — another member whose own probe failed —
 * brings the deadline closer, down to the minimum. The first accuser does not count as a
 * confirmation (our own accusation may come back to us by gossip).
 */
export class Suspicions {
  private readonly byId = new Map<string, Suspicion>()

  start(
    id: string,
    incarnation: number,
    from: string,
    nowMono: number,
    bounds: { minMs: number; maxMs: number },
    k: number,
  ): void {
    const s: Suspicion = {
      incarnation,
      startMono: nowMono,
      ...bounds,
      k,
      confirmers: new Set([from]),
      deadlineMono: nowMono + suspicionTimeoutMs(bounds, 0, k),
      pulled: false,
    }
    this.byId.set(id, s)
  }

  has(id: string): boolean {
    return this.byId.has(id)
  }

  /** True if `from` is a new confirmation that moved the deadline (worth gossiping on). */
  confirm(id: string, from: string): boolean {
    const s = this.byId.get(id)
    if (!s || s.confirmers.has(from) || s.confirmers.size - 1 >= s.k) return false
    s.confirmers.add(from)
    const timeout = suspicionTimeoutMs(s, s.confirmers.size - 1, s.k)
    s.deadlineMono = s.startMono + timeout
    return true
  }

  clear(id: string): void {
    this.byId.delete(id)
  }

  /** Suspicions whose time is up, with the incarnation each was about. */
  due(nowMono: number): { id: string; incarnation: number }[] {
    const out: { id: string; incarnation: number }[] = []
    for (const [id, s] of this.byId)
      if (s.deadlineMono <= nowMono) out.push({ id, incarnation: s.incarnation })
    return out
  }

  /**
   * Suspicions that have not asked for news yet and are within `leadMs` of their deadline,
   * or have stood their minimum time unconfirmed: a refutation gossip failed to bring us
   * (it went round before we joined, or before the claim reached us by a slower path) may
   * still be had from a neighbour, and one question saves a false death — or, unconfirmed,
   * a view wrong for the whole maximum time (each is returned once).
   */
  pullDue(nowMono: number, leadMs: number): string[] {
    const out: string[] = []
    for (const [id, s] of this.byId)
      if (!s.pulled && nowMono >= pullAt(s, leadMs)) {
        s.pulled = true
        out.push(id)
      }
    return out
  }

  /** This node stalled for `ms`: nobody's time ran out during it. */
  postpone(ms: number): void {
    for (const s of this.byId.values()) {
      s.startMono += ms
      s.deadlineMono += ms
    }
  }

  nextDeadline(leadMs = 0): number {
    let next = Number.POSITIVE_INFINITY
    for (const s of this.byId.values()) next = Math.min(next, s.pulled ? s.deadlineMono : pullAt(s, leadMs))
    return next
  }
}

/** When a suspicion asks the neighbours for news: before its deadline, or once it has stood its minimum. */
function pullAt(s: Suspicion, leadMs: number): number {
  return Math.min(s.deadlineMono - leadMs, s.startMono + s.minMs)
}
