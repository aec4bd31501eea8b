import { isNewer, type NodeRecordBody, type SignedRecord } from './record.js'

export type MemberState = 'alive' | 'suspect' | 'dead'

export interface MembershipTimings {
  /** No fresh heartbeat for this long → suspect. */
  suspectAfterMs: number
  /** Suspect for this much longer without refutation → dead. */
  deadAfterMs: number
}

export const DEFAULT_TIMINGS: MembershipTimings = { suspectAfterMs: 1200, deadAfterMs: 1200 }

/**
 * How much heartbeat traffic one node may receive. Liveness is judged from heartbeat
 * age, so every node hears every member's heartbeat: at a fixed period each node
 * receives (and signature-checks) N-1 heartbeats per period, N² across the cluster —
 * 50 agents at 500 ms peg two cores. Past `heartbeatsPerSecMax` the period grows with
 * the cluster instead, and suspicion and death wait the same number of periods, so a
 * node's load stays flat and failure detection slows in proportion to size. Small
 * clusters (up to heartbeatsPerSecMax × heartbeatMs / 1000 peers) keep the base timings.
 */
export interface HeartbeatBudget {
  /** The period of a small cluster; `timings` are calibrated to it. */
  heartbeatMs: number
  heartbeatsPerSecMax: number
}

/** The heartbeat period of a node that holds `peers` live members. */
export function heartbeatPeriodMs(budget: HeartbeatBudget, peers: number): number {
  return Math.max(budget.heartbeatMs, Math.ceil((peers * 1000) / budget.heartbeatsPerSecMax))
}

/**
 * Others may already know members this node has not heard of yet, and so send more
 * slowly than its own view implies: judge as if the view were a quarter larger.
 */
export function judgedPeers(peers: number): number {
  return Math.ceil(peers * 1.25)
}

/** `base` stretched by how much longer than the base heartbeat the period for `peers` is. */
export function scaledTimings(
  base: MembershipTimings,
  budget: HeartbeatBudget,
  peers: number,
): MembershipTimings {
  const f = heartbeatPeriodMs(budget, judgedPeers(peers)) / budget.heartbeatMs
  return {
    suspectAfterMs: Math.round(base.suspectAfterMs * f),
    deadAfterMs: Math.round(base.deadAfterMs * f),
  }
}

export interface Member {
  signed: SignedRecord
  state: MemberState
  /** Monotonic time at which the last newer record arrived. */
  lastHeardMono: number
  /** Wall time of the same moment, for display. */
  lastHeardMs: number
  stateSinceMs: number
  firstSeenMs: number
  /** Records at or below this incarnation can no longer bring the member back. */
  deadIncarnation: number | null
}

export type MembershipEvent =
  | { kind: 'joined'; id: string; name: string; incarnation: number }
  | { kind: 'suspect'; id: string; name: string; incarnation: number; silentMs: number }
  | { kind: 'refuted'; id: string; name: string; incarnation: number }
  | { kind: 'dead'; id: string; name: string; incarnation: number; silentMs: number }
  | { kind: 'rejoined'; id: string; name: string; incarnation: number }

export type Verdict =
  | { accepted: true; events: MembershipEvent[] }
  | {
      accepted: false
      reason: 'stale' | 'dead-incarnation' | 'self' | 'table-full'
      deadIncarnation?: number
    }

/**
 * The membership view of one node: a state machine with no I/O. The caller feeds it
 * verified records and clock readings and applies what comes back; nothing here
 * reads a clock or sends a message, so every transition is testable by replay.
 *
 * Liveness is judged locally from heartbeat age (alive → suspect → dead). The
 * incarnation number is what makes "dead" stick: once a member is declared dead at
 * incarnation i, only a record with a higher incarnation brings it back, so stale
 * gossip cannot resurrect it, while the node itself can always return by bumping.
 */
export class MembershipTable {
  private readonly members = new Map<string, Member>()

  constructor(
    readonly selfId: string,
    private readonly timings: MembershipTimings = DEFAULT_TIMINGS,
    private readonly membersMax = 1024,
    /** Absent: fixed timings whatever the size (tests, tiny clusters). */
    private readonly budget?: HeartbeatBudget,
  ) {}

  /** Members not dead: whose heartbeats this node expects. */
  livePeers(): number {
    let n = 0
    for (const m of this.members.values()) if (m.state !== 'dead') n++
    return n
  }

  /** The suspicion and death timeouts that apply at the current size. */
  timingsNow(): MembershipTimings {
    return this.budget ? scaledTimings(this.timings, this.budget, this.livePeers()) : this.timings
  }

  get(id: string): Member | undefined {
    return this.members.get(id)
  }

  all(): Member[] {
    return [...this.members.values()]
  }

  /** Would this record be news? Cheap, so it runs before the signature check. */
  classify(body: NodeRecordBody): 'self' | 'stale' | 'dead-incarnation' | 'news' {
    if (body.id === this.selfId) return 'self'
    const m = this.members.get(body.id)
    if (!m) return 'news'
    if (m.deadIncarnation !== null && body.incarnation <= m.deadIncarnation) return 'dead-incarnation'
    return isNewer(body, m.signed.body) ? 'news' : 'stale'
  }

  /** Apply a record whose signature has been verified. */
  accept(signed: SignedRecord, nowMono: number, nowMs: number): Verdict {
    const body = signed.body
    const cls = this.classify(body)
    if (cls === 'self' || cls === 'stale') return { accepted: false, reason: cls }
    const existing = this.members.get(body.id)
    if (cls === 'dead-incarnation') {
      return { accepted: false, reason: cls, deadIncarnation: existing?.deadIncarnation ?? 0 }
    }
    const ev = { id: body.id, name: body.name, incarnation: body.incarnation }
    if (!existing) {
      if (this.members.size >= this.membersMax) this.evictOldestDead()
      if (this.members.size >= this.membersMax) return { accepted: false, reason: 'table-full' }
      this.members.set(body.id, {
        signed,
        state: 'alive',
        lastHeardMono: nowMono,
        lastHeardMs: nowMs,
        stateSinceMs: nowMs,
        firstSeenMs: nowMs,
        deadIncarnation: null,
      })
      return { accepted: true, events: [{ kind: 'joined', ...ev }] }
    }
    const events: MembershipEvent[] = []
    if (existing.state === 'dead') events.push({ kind: 'rejoined', ...ev })
    else if (existing.state === 'suspect') events.push({ kind: 'refuted', ...ev })
    if (existing.state !== 'alive') {
      existing.state = 'alive'
      existing.stateSinceMs = nowMs
    }
    existing.signed = signed
    existing.lastHeardMono = nowMono
    existing.lastHeardMs = nowMs
    return { accepted: true, events }
  }

  /** Advance liveness judgements to `nowMono`. */
  tick(nowMono: number, nowMs: number): MembershipEvent[] {
    const events: MembershipEvent[] = []
    const { suspectAfterMs, deadAfterMs } = this.timingsNow()
    for (const m of this.members.values()) {
      const silentMs = nowMono - m.lastHeardMono
      const b = m.signed.body
      if (m.state === 'alive' && silentMs > suspectAfterMs) {
        m.state = 'suspect'
        m.stateSinceMs = nowMs
        events.push({ kind: 'suspect', id: b.id, name: b.name, incarnation: b.incarnation, silentMs })
      }
      if (m.state === 'suspect' && silentMs > suspectAfterMs + deadAfterMs) {
        m.state = 'dead'
        m.stateSinceMs = nowMs
        m.deadIncarnation = b.incarnation
        events.push({ kind: 'dead', id: b.id, name: b.name, incarnation: b.incarnation, silentMs })
      }
    }
    return events
  }

  /** Forget a member entirely (an operator removing a machine for good). */
  forget(id: string): boolean {
    return this.members.delete(id)
  }

  private evictOldestDead(): void {
    let oldest: Member | undefined
    for (const m of this.members.values()) {
      if (m.state === 'dead' && (!oldest || m.stateSinceMs < oldest.stateSinceMs)) oldest = m
    }
    if (oldest) this.members.delete(oldest.signed.body.id)
  }
}

/**
 * What a node does when told it is suspected or dead at `incarnation`: come back with
 * a higher one. Returns the new incarnation, or the current one if the notice is old.
 */
export function refute(currentIncarnation: number, noticeIncarnation: number): number {
  return noticeIncarnation >= currentIncarnation ? noticeIncarnation + 1 : currentIncarnation
}
