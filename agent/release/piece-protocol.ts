import type { Stream } from '@libp2p/interface'
import { z } from 'zod'
import { pieceBytesMax } from './manifest.js'

// The piece protocol, one request per libp2p stream: a JSON line asks, a JSON line
// answers, and a piece answer is followed by exactly `bytes` raw bytes. Nothing a peer
// sends is trusted: the line is bounded and parsed by a schema, the body is bounded by
// the piece size the manifest gives, and the caller checks the piece's hash before
// keeping it (store.ts).

export const lineBytesMax = 16 * 1024
const Sha = z.string().regex(/^[0-9a-f]{64}$/)
/** A node's ed25519 public key (hex): how peers name each other here. */
const NodeKey = z.string().regex(/^[0-9a-f]{64}$/)
/** Peers named in one `have` answer (peer exchange). */
export const peersPerAnswerMax = 16

export const PieceRequest = z.discriminatedUnion('t', [
  z.object({ t: z.literal('have'), id: Sha }).strict(),
  z.object({ t: z.literal('piece'), id: Sha, i: z.number().int().nonnegative().max(1_000_000) }).strict(),
])
export type PieceRequest = z.infer<typeof PieceRequest>

/** Why a peer does not send a piece: slots full, does not hold it, sent it moments ago to someone else, unknown release. */
export const Refusal = z.enum(['busy', 'missing', 'elsewhere', 'unknown'])
export type Refusal = z.infer<typeof Refusal>

export const PieceAnswer = z.union([
  z
    .object({
      ok: z.literal(true),
      have: z.string().max(16_384),
      // Others fetching or holding this release, as the answering node saw them ask:
      // only a hint (a connection still needs a member's key, every piece its hash).
      peers: z.array(NodeKey).max(peersPerAnswerMax).optional(),
    })
    .strict(),
  z.object({ ok: z.literal(true), bytes: z.number().int().nonnegative().max(pieceBytesMax) }).strict(),
  // `to`, with `elsewhere`: the node the piece went to, which serves it by now.
  z.object({ ok: z.literal(false), why: Refusal, to: NodeKey.optional() }).strict(),
])
export type PieceAnswer = z.infer<typeof PieceAnswer>

/** Pulls lines and exact byte counts out of a stream's chunks. */
export class StreamReader {
  private buf: Buffer = Buffer.alloc(0)
  private readonly it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>

  constructor(stream: Stream) {
    this.it = (stream as unknown as AsyncIterable<Uint8Array | { subarray(): Uint8Array }>)[
      Symbol.asyncIterator
    ]()
  }

  private async more(): Promise<boolean> {
    const r = await this.it.next()
    if (r.done) return false
    const c = r.value instanceof Uint8Array ? r.value : r.value.subarray()
    this.buf = this.buf.length === 0 ? Buffer.from(c) : Buffer.concat([this.buf, c])
    return true
  }

  async line(max = lineBytesMax): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(10)
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString('utf8')
        this.buf = this.buf.subarray(nl + 1)
        return line
      }
      if (this.buf.length > max) throw new Error(`a line longer than ${max} bytes`)
      if (!(await this.more())) throw new Error('the stream ended inside a line')
    }
  }

  async bytes(n: number): Promise<Buffer> {
    const parts: Buffer[] = []
    let got = 0
    while (got < n) {
      if (this.buf.length === 0 && !(await this.more())) break
      const take = Math.min(n - got, this.buf.length)
      parts.push(this.buf.subarray(0, take))
      this.buf = this.buf.subarray(take)
      got += take
    }
    // A short body is returned as it is: the hash check refuses it as truncated.
    return Buffer.concat(parts, got)
  }
}

export function parseLine<T>(schema: z.ZodType<T>, line: string): T | null {
  try {
    const r = schema.safeParse(JSON.parse(line))
    return r.success ? r.data : null
  } catch {
    return null
  }
}

const chunkBytes = 256 * 1024

/** Sends a line and an optional body, honouring back-pressure. */
export async function sendAll(stream: Stream, line: unknown, body?: Buffer): Promise<void> {
  const parts: Uint8Array[] = [Buffer.from(`${JSON.stringify(line)}\n`)]
  if (body)
    for (let at = 0; at < body.length; at += chunkBytes) parts.push(body.subarray(at, at + chunkBytes))
  for (const p of parts) if (!stream.send(p)) await stream.onDrain()
}
