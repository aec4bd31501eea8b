import type { Member } from './membership.js'
import type { SignedRecord } from './record.js'
import type { SwimMember } from './swim/types.js'

// SWIM members in the shape the status page, placement and trust read (membership.ts).

/**
 * The read model, with each state change's wall time fixed once. SWIM keeps monotonic
 * times; a wall time derived afresh on every read (now − (monoNow − monoSince)) wobbles
 * by a millisecond as the two clocks tick apart, and a time of death that moves is what
 * the coordinator records (the placement's deadSince keeps the earliest it sees).
 */
export class MemberViews {
  private readonly since = new Map<string, { mono: number; wallMs: number }>()

  of(members: readonly SwimMember<SignedRecord>[], nowMs: number, nowMono: number): Member[] {
    const out = members.map((m) => memberView(m, this.wallSince(m, nowMs, nowMono), nowMs, nowMono))
    // Forget members SWIM has evicted (the table itself is bounded).
    if (this.since.size > 2 * members.length + 16) {
      const ids = new Set(members.map((m) => m.id))
      for (const id of this.since.keys()) if (!ids.has(id)) this.since.delete(id)
    }
    return out
  }

  private wallSince(m: SwimMember<SignedRecord>, nowMs: number, nowMono: number): number {
    const s = this.since.get(m.id)
    if (s?.mono === m.stateSinceMono) return s.wallMs
    const wallMs = wallTimeOf(m.stateSinceMono, nowMs, nowMono)
    this.since.set(m.id, { mono: m.stateSinceMono, wallMs })
    return wallMs
  }
}

/**
 * A monotonic instant as wall time, in whole milliseconds: the monotonic clock is
 * fractional, and a time of death with a fraction is a record the coordinator then
 * refuses (its schema wants an integer).
 */
export function wallTimeOf(mono: number, nowMs: number, nowMono: number): number {
  return Math.round(nowMs - (nowMono - mono))
}

/** One member as read now; `sinceMs` is the wall time of its last state change. */
export function memberView(
  m: SwimMember<SignedRecord>,
  sinceMs: number,
  nowMs: number,
  nowMono: number,
): Member {
  return {
    signed: m.record,
    state: m.state,
    lastHeardMono: m.state === 'alive' ? nowMono : m.stateSinceMono,
    lastHeardMs: m.state === 'alive' ? nowMs : sinceMs,
    stateSinceMs: sinceMs,
    firstSeenMs: sinceMs,
    deadIncarnation: m.deadIncarnation,
  }
}
