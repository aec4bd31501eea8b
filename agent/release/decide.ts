import type { Bitfield } from './bitfield.js'
import type { Refusal } from './piece-protocol.js'

// The pure decisions of spreading a release. Two rules keep the origin's upload near
// one copy however many nodes fetch:
//  - downloaders ask for the rarest piece first (ties at random, so they do not all chase
//    the same one) and prefer holders that are still downloading over complete ones;
//  - an uploader that sent a piece moments ago answers `elsewhere` to the next request
//    for it (the node it went to is serving it by now), unless resendAfterMs has passed
//    (that node may have died). The asker backs off that piece briefly and asks peers.

export interface UploadState {
  slotsUsed: number
  slotsMax: number
  /** When this node last sent each piece (monotonic ms). */
  sentAtMs: ReadonlyMap<number, number>
}

export function uploadDecision(
  s: UploadState,
  piece: number,
  held: boolean,
  nowMs: number,
  resendAfterMs: number,
): 'send' | Refusal {
  if (!held) return 'missing'
  if (s.slotsUsed >= s.slotsMax) return 'busy'
  const sent = s.sentAtMs.get(piece)
  if (sent !== undefined && nowMs - sent < resendAfterMs) return 'elsewhere'
  return 'send'
}

export interface PeerView {
  key: string
  have: Bitfield
  /** Requests to this peer in flight now. */
  inFlight: number
  /** Not asked again before this (monotonic ms): busy, or failed. */
  backoffUntilMs: number
}

export interface PickInput {
  missing: readonly number[]
  inFlight: ReadonlySet<number>
  peers: readonly PeerView[]
  /** Pieces not asked for before this time (answered `elsewhere`). */
  pieceBackoff: ReadonlyMap<number, number>
  nowMs: number
  inFlightMax: number
  perPeerMax: number
  /** [0, 1): injected randomness. */
  random: () => number
}

export interface PieceAsk {
  piece: number
  peer: string
}

/** Which pieces to ask for now, and from whom: rarest first, partial holders before complete ones. */
export function pickRequests(x: PickInput): PieceAsk[] {
  const usable = x.peers.filter((p) => p.backoffUntilMs <= x.nowMs)
  const load = new Map(usable.map((p) => [p.key, p.inFlight]))
  const candidates = x.missing
    .filter((i) => !x.inFlight.has(i) && (x.pieceBackoff.get(i) ?? 0) <= x.nowMs)
    .map((i) => ({ i, holders: usable.filter((p) => p.have.has(i)), r: x.random() }))
    .filter((c) => c.holders.length > 0)
    .sort((a, b) => a.holders.length - b.holders.length || a.r - b.r)
  const out: PieceAsk[] = []
  let budget = x.inFlightMax - x.inFlight.size
  for (const c of candidates) {
    if (budget <= 0) break
    const open = c.holders.filter((p) => (load.get(p.key) ?? 0) < x.perPeerMax)
    if (open.length === 0) continue
    const ranked = open
      .map((p) => ({ p, complete: p.have.complete() ? 1 : 0, load: load.get(p.key) ?? 0, r: x.random() }))
      .sort((a, b) => a.complete - b.complete || a.load - b.load || a.r - b.r)
    const peer = ranked[0]!.p.key
    out.push({ piece: c.i, peer })
    load.set(peer, (load.get(peer) ?? 0) + 1)
    budget--
  }
  return out
}
