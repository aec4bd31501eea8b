import type { Connection, Stream } from '@libp2p/interface'
import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { Bitfield } from './bitfield.js'
import { type Sent, uploadDecision } from './decide.js'
import type { ReleaseP2p } from './p2p.js'
import { keyOfPeer } from './p2p.js'
import {
  PieceAnswer,
  PieceRequest,
  parseLine,
  peersPerAnswerMax,
  type Refusal,
  StreamReader,
  sendAll,
} from './piece-protocol.js'
import type { ReleaseStore } from './store.js'

// Both ends of the piece protocol over the release transport. Serving: bounded upload
// slots, the `elsewhere` rule (decide.ts), peer exchange in `have` answers, every byte
// counted per release. Asking:
// one stream per request with a deadline; what comes back is only handed to the
// caller, who checks it against the manifest before the store keeps it.

export const uploadSlotsDefault = 4
/**
 * A piece sent once is sent again after this even while the node it went to is still
 * connected (that node may be stuck, or refusing). Long, because the asker was told who
 * holds it; a recipient that disconnected frees the piece at once.
 */
export const resendAfterMsDefault = 30_000
/** A peer that asked about a release is named to others (peer exchange) for this long. */
const askerMemoryMs = 60_000
/** Askers remembered per release (the oldest are forgotten first). */
const askersPerReleaseMax = 256
export const requestMsMax = 30_000
export const UPLOAD_BYTES = 'homecloud_release_upload_bytes_total'
export const DOWNLOAD_BYTES = 'homecloud_release_download_bytes_total'

export interface PieceServerInit {
  slotsMax?: number
  resendAfterMs?: number
}

export interface PieceServerComponents {
  store: ReleaseStore
  clock: Clock
  log: Logger
  counters: Counters
  /** Peers with a live connection to this node now (keys). */
  connectedKeys: () => string[]
}

export class PieceServer {
  private slotsUsed = 0
  private readonly sent = new Map<string, Map<number, Sent>>()
  /** Per release: who asked about it lately (key → monotonic ms), for peer exchange. */
  private readonly askers = new Map<string, Map<string, number>>()
  /** Bytes uploaded per release (the benchmark reads the origin's). */
  readonly uploaded = new Map<string, number>()

  constructor(
    private readonly init: PieceServerInit,
    private readonly c: PieceServerComponents,
  ) {}

  async handle(stream: Stream, connection: Connection): Promise<void> {
    const peer = keyOfPeer(connection.remotePeer) ?? '?'
    const timer = this.c.clock.setTimeout(() => stream.abort(new Error('request timed out')), requestMsMax)
    try {
      const req = parseLine(PieceRequest, await new StreamReader(stream).line())
      if (!req) {
        this.c.counters.inc('homecloud_release_requests_refused_total', { reason: 'malformed' })
        stream.abort(new Error('malformed request'))
        return
      }
      const s = this.c.store.get(req.id)
      if (!s) return await this.answer(stream, { ok: false, why: 'unknown' })
      this.remember(req.id, peer)
      if (req.t === 'have')
        return await this.answer(stream, {
          ok: true,
          have: s.have.toBase64(),
          peers: this.others(req.id, peer),
        })
      await this.servePiece(stream, req.id, req.i, peer)
    } catch (err) {
      this.c.log.debug({ peer, err: (err as Error).message }, 'piece request failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      timer.cancel()
    }
  }

  private async servePiece(stream: Stream, id: string, piece: number, peer: string): Promise<void> {
    const s = this.c.store.get(id)!
    const sent = this.sent.get(id) ?? new Map<number, Sent>()
    this.sent.set(id, sent)
    const verdict = uploadDecision(
      {
        slotsUsed: this.slotsUsed,
        slotsMax: this.init.slotsMax ?? uploadSlotsDefault,
        sent,
        connected: new Set(this.c.connectedKeys()),
      },
      { piece, from: peer },
      s.have.has(piece),
      this.c.clock.monoMs(),
      this.init.resendAfterMs ?? resendAfterMsDefault,
    )
    if (!verdict.send) return await this.answer(stream, { ok: false, why: verdict.why, to: verdict.to })
    // Marked before the first await: a second request for the same piece arriving while
    // this one reads the disk is told `elsewhere`, not served twice.
    const mark: Sent = { atMs: this.c.clock.monoMs(), to: peer }
    const previous = sent.get(piece)
    sent.set(piece, mark)
    this.slotsUsed++
    let delivered = false
    try {
      const data = await this.c.store.readPiece(id, piece)
      if (!data) return await this.answer(stream, { ok: false, why: 'missing' })
      await sendAll(stream, { ok: true, bytes: data.length }, data)
      await stream.close()
      delivered = true
      // The resend window runs from delivery: a slow transfer does not eat it.
      mark.atMs = this.c.clock.monoMs()
      this.uploaded.set(id, (this.uploaded.get(id) ?? 0) + data.length)
      this.c.counters.inc(UPLOAD_BYTES, {}, data.length)
    } finally {
      this.slotsUsed--
      if (!delivered && sent.get(piece) === mark) {
        if (previous) sent.set(piece, previous)
        else sent.delete(piece)
      }
    }
  }

  private remember(id: string, peer: string): void {
    const seen = this.askers.get(id) ?? new Map<string, number>()
    seen.delete(peer)
    seen.set(peer, this.c.clock.monoMs())
    while (seen.size > askersPerReleaseMax) seen.delete(seen.keys().next().value!)
    this.askers.set(id, seen)
  }

  /** The most recent other askers of a release (peer exchange), newest first. */
  private others(id: string, peer: string): string[] {
    const now = this.c.clock.monoMs()
    const seen = [...(this.askers.get(id) ?? new Map<string, number>())]
    return seen
      .filter(([k, at]) => k !== peer && k !== '?' && now - at < askerMemoryMs)
      .reverse()
      .slice(0, peersPerAnswerMax)
      .map(([k]) => k)
  }

  private async answer(stream: Stream, a: PieceAnswer): Promise<void> {
    await sendAll(stream, a)
    await stream.close()
  }
}

export type AskResult =
  | { kind: 'piece'; data: Buffer }
  | { kind: 'have'; have: Bitfield; peers: string[] }
  | { kind: 'refused'; why: Refusal; to?: string }
  | { kind: 'failed'; error: string }
  /** The peer broke the protocol: a malformed answer or a wrong piece size. */
  | { kind: 'bad'; error: string }

/** One request to one peer. `pieceSize`: what the manifest says this piece weighs (the body bound). */
export async function ask(
  p2p: ReleaseP2p,
  peer: string,
  req: PieceRequest,
  ctx: { clock: Clock; pieces: number; pieceSize?: number },
): Promise<AskResult> {
  const abort = new AbortController()
  const timer = ctx.clock.setTimeout(() => abort.abort(new Error('timed out')), requestMsMax)
  let stream: Stream | undefined
  try {
    stream = await p2p.openStream(peer, abort.signal)
    stream.maxReadBufferLength = 2 * (ctx.pieceSize ?? 0) + 1024 * 1024
    abort.signal.addEventListener('abort', () => stream?.abort(new Error('timed out')))
    await sendAll(stream, req)
    await stream.close({ signal: abort.signal })
    const reader = new StreamReader(stream)
    const a = parseLine(PieceAnswer, await reader.line())
    if (!a) return { kind: 'bad', error: 'a malformed answer' }
    if (!a.ok) return { kind: 'refused', why: a.why, to: a.to }
    if ('have' in a)
      return { kind: 'have', have: Bitfield.fromBase64(ctx.pieces, a.have), peers: a.peers ?? [] }
    if (req.t !== 'piece' || a.bytes !== ctx.pieceSize)
      return { kind: 'bad', error: `announced ${a.bytes} bytes for a piece of ${ctx.pieceSize}` }
    return { kind: 'piece', data: await reader.bytes(a.bytes) }
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)))
    return { kind: 'failed', error: (err as Error).message }
  } finally {
    timer.cancel()
  }
}
