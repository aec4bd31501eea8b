import { z } from 'zod'
import { RevocationList } from '../pki/revocations.js'
import { ClusterSettings } from '../state/cluster-file.js'
import { SignedSettings } from '../trust/signed-settings.js'
import { SignedRecord } from './record.js'

/** Limits on what a peer may send; a frame over the limit closes that connection. */
export const WIRE_LIMITS = {
  frameBytesMax: 64 * 1024,
  recordsPerFrameMax: 32,
  certsPerFrameMax: 16,
  pemCharsMax: 8192,
  pendingEntriesMax: 64,
  /** 32 KiB of snapshot per frame: base64 plus the envelope stays well under frameBytesMax. */
  snapshotChunkBytes: 32 * 1024,
  snapshotChunkBase64Max: Math.ceil((32 * 1024) / 3) * 4,
  snapshotBytesMax: 256 * 1024 * 1024,
} as const

const Pem = z.string().min(1).max(WIRE_LIMITS.pemCharsMax)
const CertAndKey = z.object({ cert: Pem, key: Pem })
/** etcd member ids as etcd prints them: lowercase hex, no padding. */
const MemberIdHex = z.string().regex(/^[0-9a-f]{1,16}$/)
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const NodeProfileName = z.enum(['kubelet', 'kubelet-serving', 'kwok'])

/** Incarnations only grow by one per restart or refutation; anything near this is forged. */
export const NOTICE_INCARNATION_MAX = 2 ** 40

const NoticeIncarnation = z.number().int().nonnegative().max(NOTICE_INCARNATION_MAX)

export const MeshMessage = z.discriminatedUnion('t', [
  /** The sender's own record: its heartbeat. */
  z.object({ t: z.literal('rec'), r: SignedRecord }),
  /** Others' records relayed so members without a direct connection still hear them. */
  z.object({ t: z.literal('relay'), rs: z.array(SignedRecord).min(1).max(WIRE_LIMITS.recordsPerFrameMax) }),
  /** "I suspect you at this incarnation": the receiver refutes by bumping its incarnation. */
  z.object({ t: z.literal('suspect'), incarnation: NoticeIncarnation }),
  /** "You were declared dead at this incarnation": the receiver comes back with a higher one. */
  z.object({ t: z.literal('dead'), incarnation: NoticeIncarnation }),
  /** The sender's node certificate; `ask` requests the receiver's in return. */
  z.object({ t: z.literal('hello'), cert: Pem, ask: z.boolean().default(false) }),
  /** Other members' certificates, for peers we are not connected to directly. */
  z.object({ t: z.literal('certs'), certs: z.array(Pem).min(1).max(WIRE_LIMITS.certsPerFrameMax) }),
  /** A join (proof of the join secret, bound to this connection) or a renewal (the current certificate speaks). */
  z.object({
    t: z.literal('join'),
    mode: z.enum(['join', 'renew']),
    name: z.string().min(1).max(63),
    csr: Pem,
    proof: Hex64.optional(),
    /** Absent: the agent certificate. A member (renew) may ask for its Kubernetes node identities. */
    profile: NodeProfileName.optional(),
  }),
  z.object({
    t: z.literal('join-signed'),
    cert: Pem,
    ca: Pem,
    cluster: ClusterSettings,
    proof: Hex64.optional(),
    profile: NodeProfileName.optional(),
  }),
  z.object({ t: z.literal('join-pending'), code: z.string().max(16) }),
  z.object({
    t: z.literal('join-refused'),
    reason: z.string().max(64),
    message: z.string().max(512),
    profile: NodeProfileName.optional(),
  }),
  z.object({ t: z.literal('join-not-signer') }),
  /** CA-signed cluster settings; the highest version wins. */
  z.object({ t: z.literal('settings'), signed: SignedSettings }),
  /** The CA-signed revocation list; newer versions win. */
  z.object({ t: z.literal('revocations'), list: RevocationList }),
  /** Joiners waiting for approval, as a signer sees them. */
  z.object({
    t: z.literal('pending'),
    entries: z
      .array(
        z.object({
          id: z.string().max(64),
          name: z.string().max(63),
          code: z.string().max(16),
          sinceMs: z.number(),
        }),
      )
      .max(WIRE_LIMITS.pendingEntriesMax),
  }),
  /**
   * The coordinator made the receiver an etcd member (a learner, added already): its
   * certificates, the `--initial-cluster` to start with (state existing), and the CA
   * key, since control-plane members sign. Only a holder of the CA key can send one
   * the receiver accepts: it checks the key against its CA certificate.
   */
  z.object({
    t: z.literal('etcd-assign'),
    memberId: MemberIdHex,
    initialCluster: z.string().min(1).max(4096),
    token: z.string().min(1).max(128),
    peer: CertAndKey,
    server: CertAndKey,
    client: CertAndKey,
    caKey: Pem,
  }),
  /**
   * "You were removed from etcd": the receiver does not take our word for it, it asks
   * the other members, and only if they agree stops etcd and wipes its data.
   */
  z.object({ t: z.literal('etcd-retire'), memberId: MemberIdHex }),
  /**
   * One piece of an etcd snapshot pushed by the coordinator (a voter) for `homecloud
   * recover`. Pieces arrive in order on one connection; the receiver checks the sha256
   * of the whole before keeping it.
   */
  z.object({
    t: z.literal('snapshot-chunk'),
    name: z.string().regex(/^snap-\d{13}-r\d{1,16}$/),
    sha256: Hex64,
    revision: z.number().int().nonnegative(),
    takenAtMs: z.number().int().nonnegative(),
    total: z.number().int().positive().max(WIRE_LIMITS.snapshotBytesMax),
    offset: z.number().int().nonnegative().max(WIRE_LIMITS.snapshotBytesMax),
    data: z.string().min(1).max(WIRE_LIMITS.snapshotChunkBase64Max),
  }),
])
export type MeshMessage = z.infer<typeof MeshMessage>

export function encodeFrame(msg: MeshMessage): Buffer {
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
