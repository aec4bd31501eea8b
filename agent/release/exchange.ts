import type { Connection, Stream } from '@libp2p/interface'
import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { Bitfield } from './bitfield.js'
import { uploadDecision } from './decide.js'
import type { ReleaseP2p } from './p2p.js'
import { keyOfPeer } from './p2p.js'
import { PieceAnswer, PieceRequest, parseLine, StreamReader, sendAll } from './piece-protocol.js'
import type { ReleaseStore } from './store.js'

// Both ends of the piece protocol over the release transport. Serving: bounded upload
// slots, the `elsewhere` rule (decide.ts), every byte counted per release. Asking:
// one stream per request with a deadline; what comes back is only handed to the
// caller, who checks it against the manifest before the store keeps it.

export const uploadSlotsDefault = 4
/** After this, a piece sent once may be sent again (the node it went to may be gone). */
export const resendAfterMsDefault = 8_000
export const requestMsMax = 30_000
export const UPLOAD_BYTES = 'homecloud_release_upload_bytes_total'
export const DOWNLOAD_BYTES = 'homecloud_release_download_bytes_total'

export interface PieceServerInit {
  slotsMax?: number
  resendAfterMs?: number
}

export class PieceServer {
  private slotsUsed = 0
  private readonly sentAtMs = new Map<string, Map<number, number>>()
  /** Bytes uploaded per release (the benchmark reads the origin's). */
  readonly uploaded = new Map<string, number>()

  constructor(
    private readonly init: PieceServerInit,
    private readonly c: { store: ReleaseStore; clock: Clock; log: Logger; counters: Counters },
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
      if (req.t === 'have') return await this.answer(stream, { ok: true, have: s.have.toBase64() })
      const sent = this.sentAtMs.get(req.id) ?? new Map<number, number>()
      const verdict = uploadDecision(
        { slotsUsed: this.slotsUsed, slotsMax: this.init.slotsMax ?? uploadSlotsDefault, sentAtMs: sent },
        req.i,
        s.have.has(req.i),
        this.c.clock.monoMs(),
        this.init.resendAfterMs ?? resendAfterMsDefault,
      )
      if (verdict !== 'send') return await this.answer(stream, { ok: false, why: verdict })
      // Marked before the first await: a second request for the same piece arriving while
      // this one reads the disk is told `elsewhere`, not served twice.
      sent.set(req.i, this.c.clock.monoMs())
      this.sentAtMs.set(req.id, sent)
      this.slotsUsed++
      try {
        const data = await this.c.store.readPiece(req.id, req.i)
        if (!data) {
          sent.delete(req.i)
          return await this.answer(stream, { ok: false, why: 'missing' })
        }
        await sendAll(stream, { ok: true, bytes: data.length }, data)
        await stream.close()
        this.uploaded.set(req.id, (this.uploaded.get(req.id) ?? 0) + data.length)
        this.c.counters.inc(UPLOAD_BYTES, {}, data.length)
      } finally {
        this.slotsUsed--
      }
    } catch (err) {
      this.c.log.debug({ peer, err: (err as Error).message }, 'piece request failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      timer.cancel()
    }
  }

  private async answer(stream: Stream, a: PieceAnswer): Promise<void> {
    await sendAll(stream, a)
    await stream.close()
  }
}

export type AskResult =
  | { kind: 'piece'; data: Buffer }
  | { kind: 'have'; have: Bitfield }
  | { kind: 'refused'; why: 'busy' | 'missing' | 'elsewhere' | 'unknown' }
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
    if (!a.ok) return { kind: 'refused', why: a.why }
    if ('have' in a) return { kind: 'have', have: Bitfield.fromBase64(ctx.pieces, a.have) }
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
