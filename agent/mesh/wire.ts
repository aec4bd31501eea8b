import { z } from 'zod'
import { SignedRecord } from './record.js'

/** Limits on what a peer may send; a frame over the limit closes that connection. */
export const WIRE_LIMITS = {
  frameBytesMax: 64 * 1024,
  recordsPerFrameMax: 32,
} as const

/** Every frame is one JSON object whose `t` names its type; each protocol owns its types' schemas. */
export interface WireMessage {
  t: string
}

/** Incarnations only grow by one per restart or refutation; anything near this is forged. */
export const NOTICE_INCARNATION_MAX = 2 ** 40

const NoticeIncarnation = z.number().int().nonnegative().max(NOTICE_INCARNATION_MAX)

/** The sender's own record: its heartbeat. */
export const RecMessage = z.object({ t: z.literal('rec'), r: SignedRecord })
/** Others' records relayed so members without a direct connection still hear them. */
export const RelayMessage = z.object({
  t: z.literal('relay'),
  rs: z.array(SignedRecord).min(1).max(WIRE_LIMITS.recordsPerFrameMax),
})
/** "I suspect you at this incarnation": the receiver refutes by bumping its incarnation. */
export const SuspectMessage = z.object({ t: z.literal('suspect'), incarnation: NoticeIncarnation })
/** "You were declared dead at this incarnation": the receiver comes back with a higher one. */
export const DeadMessage = z.object({ t: z.literal('dead'), incarnation: NoticeIncarnation })

/** The membership protocol's own messages (other protocols register theirs on the router). */
export const MeshMessage = z.discriminatedUnion('t', [RecMessage, RelayMessage, SuspectMessage, DeadMessage])
export type MeshMessage = z.infer<typeof MeshMessage>

export function encodeFrame<M extends WireMessage>(msg: M): Buffer {
  const body = Buffer.from(JSON.stringify(msg))
  const frame = Buffer.allocUnsafe(4 + body.length)
  frame.writeUInt32BE(body.length, 0)
  body.copy(frame, 4)
  return frame
}

export type FrameResult =
  | { ok: true; payload: Buffer }
  | { ok: false; reason: 'oversized'; declaredBytes: number }

/**
 * Splits a byte stream into length-prefixed frames. An oversized length poisons the
 * stream (we cannot trust where the next frame starts), so the caller must close it.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0)
  private poisoned = false

  constructor(private readonly frameBytesMax: number = WIRE_LIMITS.frameBytesMax) {}

  push(chunk: Uint8Array): FrameResult[] {
    if (this.poisoned) return []
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk])
    const out: FrameResult[] = []
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0)
      if (len > this.frameBytesMax) {
        this.poisoned = true
        this.buf = Buffer.alloc(0)
        out.push({ ok: false, reason: 'oversized', declaredBytes: len })
        return out
      }
      if (this.buf.length < 4 + len) break
      out.push({ ok: true, payload: this.buf.subarray(4, 4 + len) })
      this.buf = this.buf.subarray(4 + len)
    }
    return out
  }
}
