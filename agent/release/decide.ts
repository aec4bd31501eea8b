import type { Bitfield } from './bitfield.js'
import type { Refusal } from './piece-protocol.js'

// The pure decisions of spreading a release. Three rules keep the origin's upload near
// one copy however many nodes fetch:
//  - downloaders ask for the rarest piece first (ties at random, so they do not all chase
//    the same one) and prefer holders that are still downloading over complete ones;
//  - an uploader that sent a piece answers `elsewhere` to the next request for it,
//    naming the node it went to, while that node is still connected and resendAfterMs
//    has not passed (after that, or once that node is gone, it sends again);
//  - peers tell each other who else fetches the release (peer exchange in the `have`
//    answer), so a node holding a piece is found by the others within one bitfield
//    round, not when a provider lookup happens to run.

/** One piece sent by this node: when, and to whom. */
export interface Sent {
  atMs: number
  to: string
}

export interface UploadState {
  slotsUsed: number
  slotsMax: number
  /** What this node last sent of each piece (monotonic ms). */
  sent: ReadonlyMap<number, Sent>
  /** Peers this node has a live connection to now. */
  connected: ReadonlySet<string>
}

export type UploadVerdict = { send: true } | { send: false; why: Refusal; to?: string }

export function uploadDecision(
  s: UploadState,
  req: { piece: number; from: string },
  held: boolean,
  nowMs: number,
  resendAfterMs: number,
): UploadVerdict {
  if (!held) return { send: false, why: 'missing' }
  if (s.slotsUsed >= s.slotsMax) return { send: false, why: 'busy' }
  const sent = s.sent.get(req.piece)
  if (
    sent !== undefined &&
    sent.to !== req.from &&
    s.connected.has(sent.to) &&
    nowMs - sent.atMs < resendAfterMs
  )
    return { send: false, why: 'elsewhere', to: sent.to }
  return { send: true }
}

export interface PeerView {
  key: string
  have: Bitfield
  /** Requests to this peer in flight now. */
  inFlight: number
  /** Not asked again before this (monotonic ms): busy, or failed. */
  backoffUntilMs: number
  /** Pieces this peer said `elsewhere` for: not asked of it again before the time given. */
  refusedUntilMs?: ReadonlyMap<number, number>
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
    .map((i) => ({ i, holders: usable.filter((p) => offers(p, i, x.nowMs)), r: x.random() }))
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

const offers = (p: PeerView, piece: number, nowMs: number): boolean =>
  p.have.has(piece) && (p.refusedUntilMs?.get(piece) ?? 0) <= nowMs
