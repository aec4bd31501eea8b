import { z } from 'zod'

// The control plane's mesh messages, registered on the mesh router as members-only:
// certificates and keys travel here, so never from a stranger.

export const CONTROL_LIMITS = {
  pemCharsMax: 8192,
  /** 32 KiB of snapshot per frame: base64 plus the envelope stays well under the mesh's frame limit. */
  snapshotChunkBytes: 32 * 1024,
  snapshotChunkBase64Max: Math.ceil((32 * 1024) / 3) * 4,
  snapshotBytesMax: 256 * 1024 * 1024,
} as const

const Pem = z.string().min(1).max(CONTROL_LIMITS.pemCharsMax)
const CertAndKey = z.object({ cert: Pem, key: Pem })
/** etcd member ids as etcd prints them: lowercase hex, no padding. */
const MemberIdHex = z.string().regex(/^[0-9a-f]{1,16}$/)
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/)

/**
 * The coordinator made the receiver an etcd member (a learner, added already): its
 * certificates, the `--initial-cluster` to start with (state existing), and the CA
 * key, since control-plane members sign. Only a holder of the CA key can send one
 * the receiver accepts: it checks the key against its CA certificate.
 */
export const EtcdAssign = z.object({
  t: z.literal('etcd-assign'),
  memberId: MemberIdHex,
  initialCluster: z.string().min(1).max(4096),
  token: z.string().min(1).max(128),
  peer: CertAndKey,
  server: CertAndKey,
  client: CertAndKey,
  caKey: Pem,
  /** The etcd epoch of the sender's cluster (epoch.ts); absent = 0. */
  epoch: z.number().int().nonnegative().max(1_000_000).optional(),
})
export type EtcdAssign = z.infer<typeof EtcdAssign>

/**
 * "You were removed from etcd": the receiver does not take our word for it, it asks
 * the other members, and only if they agree stops etcd and wipes its data.
 */
export const EtcdRetire = z.object({ t: z.literal('etcd-retire'), memberId: MemberIdHex })
export type EtcdRetire = z.infer<typeof EtcdRetire>

/**
 * One piece of an etcd snapshot pushed by the coordinator (a voter) for `homecloud
 * recover`. Pieces arrive in order on one connection; the receiver checks the sha256
 * of the whole before keeping it.
 */
export const SnapshotChunk = z.object({
  t: z.literal('snapshot-chunk'),
  name: z.string().regex(/^snap-\d{13}-r\d{1,16}$/),
  sha256: Hex64,
  revision: z.number().int().nonnegative(),
  takenAtMs: z.number().int().nonnegative(),
  total: z.number().int().positive().max(CONTROL_LIMITS.snapshotBytesMax),
  offset: z.number().int().nonnegative().max(CONTROL_LIMITS.snapshotBytesMax),
  data: z.string().min(1).max(CONTROL_LIMITS.snapshotChunkBase64Max),
})
export type SnapshotChunk = z.infer<typeof SnapshotChunk>
