import { z } from 'zod'
import { RevocationEntry, RevocationList, revocationEntriesMax } from '../pki/revocations.js'
import { ClusterSettings } from '../state/cluster-file.js'
import { SignedApproval } from './approval.js'
import { SignedSettings } from './signed-settings.js'

// The trust protocols' messages, one schema each, grouped by protocol. Each protocol
// registers its own types on the mesh router (trust.ts); nothing else parses them.

export const TRUST_LIMITS = {
  certsPerFrameMax: 16,
  pemCharsMax: 8192,
  pendingEntriesMax: 64,
  refusalCharsMax: 500,
  /** Approval ids one digest lists (≤ 64 characters each: 33 KiB, well inside a frame). */
  digestApprovalsMax: 512,
  /** Pages of one revocation list (revocation-pages.ts): 10 000 entries of the largest allowed size fit. */
  revocationPagesMax: 256,
  /** Entries of one page (its bytes, ≤ 48 KiB, are what really bound it). */
  revocationPageEntriesMax: 2048,
  /**
   * Raced revocation lists a node keeps beside its winner (revocations.ts): lists that lost
   * the total order but hold entries the winner lacks, kept until a signer's union holds
   * them. Each is a branch issued by a signer cut off from the others, so more than a few
   * at once means that many signers revoked while partitioned from each other.
   */
  revocationsRacedMax: 8,
  /**
   * Signers one `not-a-signer` refusal names: the etcd voters (3 or 5), with room for a
   * few learners that hold the CA key too.
   */
  signerHintsMax: 8,
} as const

const Pem = z.string().min(1).max(TRUST_LIMITS.pemCharsMax)
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const NodeName = z.string().min(1).max(63)
const Reason = z.string().max(64)
const Message = z.string().max(512)
export const NodeProfileName = z.enum(['kubelet', 'kubelet-serving', 'kwok'])

// ---- joining (a node without a certificate ↔ signers) ----

/** Proof of the join secret, bound to this connection's Noise handshake, and a CSR for the agent certificate. */
export const JoinRequest = z.object({ t: z.literal('join-request'), name: NodeName, csr: Pem, proof: Hex64 })
/** The certificate, the CA and the settings, proven with the join secret for this connection. */
export const JoinSigned = z.object({
  t: z.literal('join-signed'),
  cert: Pem,
  ca: Pem,
  cluster: ClusterSettings,
  proof: Hex64,
})
export const JoinPending = z.object({ t: z.literal('join-pending'), code: z.string().max(16) })
/** Where a joiner finds a node that signs (a member without the CA key names the voters it knows). */
export const SignerHint = z.object({
  key: Hex64,
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535),
})
export const JoinRefused = z.object({
  t: z.literal('join-refused'),
  reason: Reason,
  message: Message,
  /** With `not-a-signer`: signers the refusing node knows, so the joiner can link to one. */
  signers: z.array(SignerHint).max(TRUST_LIMITS.signerHintsMax).optional(),
})

// ---- node identity (members ↔ signers): renewal and Kubernetes node certificates ----

/** A member's new agent CSR; its current certificate (by the connection's key) is what speaks for it. */
export const RenewRequest = z.object({ t: z.literal('renew-request'), name: NodeName, csr: Pem })
export const Renewed = z.object({ t: z.literal('renewed'), cert: Pem })
export const RenewRefused = z.object({ t: z.literal('renew-refused'), reason: Reason, message: Message })
/** A member asks for one of its Kubernetes node identities, under its own name only. */
export const NodeCertRequest = z.object({
  t: z.literal('node-cert-request'),
  profile: NodeProfileName,
  name: NodeName,
  csr: Pem,
})
export const NodeCert = z.object({ t: z.literal('node-cert'), profile: NodeProfileName, cert: Pem })
export const NodeCertRefused = z.object({
  t: z.literal('node-cert-refused'),
  profile: NodeProfileName,
  reason: Reason,
  message: Message,
})

// ---- certificate exchange (membership is certificate-gated) ----

/** The sender's node certificate; `ask` requests the receiver's in return. */
export const Hello = z.object({ t: z.literal('hello'), cert: Pem, ask: z.boolean().default(false) })
/** Other members' certificates, for peers we are not connected to directly. */
export const Certs = z.object({
  t: z.literal('certs'),
  certs: z.array(Pem).min(1).max(TRUST_LIMITS.certsPerFrameMax),
})

// ---- gossip of CA-signed documents and of who waits ----

/** The CA-signed revocation list; a signer that sees two lists neither containing the other issues their union. */
export const Revocations = z.object({ t: z.literal('revocations'), list: RevocationList })
/**
 * One page of a revocation list too big for one frame (revocation-pages.ts): the list's
 * head, and a run of its entries in order. Only the rebuilt list is verified.
 */
export const RevocationsPage = z.object({
  t: z.literal('revocations-page'),
  head: z.object({
    clusterId: z.string().min(1).max(256),
    version: z.number().int().nonnegative(),
    count: z.number().int().nonnegative().max(revocationEntriesMax),
    signature: z.string().min(1).max(4096),
  }),
  index: z.number().int().nonnegative(),
  pages: z.number().int().min(2).max(TRUST_LIMITS.revocationPagesMax),
  entries: z.array(RevocationEntry).min(1).max(TRUST_LIMITS.revocationPageEntriesMax),
})
export type RevocationsPage = z.infer<typeof RevocationsPage>
/** CA-signed cluster settings; the highest (version, signature) wins. */
export const Settings = z.object({ t: z.literal('settings'), signed: SignedSettings })
/** A CA-signed approval of one pending node: any signer it reaches signs that node. */
export const Approval = z.object({ t: z.literal('approval'), approval: SignedApproval })
export const PendingEntry = z.object({
  id: z.string().max(64),
  name: z.string().max(63),
  code: z.string().max(16),
  sinceMs: z.number(),
})
export type PendingEntry = z.infer<typeof PendingEntry>
/** Joiners waiting for approval, as a signer sees them. */
export const Pending = z.object({
  t: z.literal('pending'),
  entries: z.array(PendingEntry).max(TRUST_LIMITS.pendingEntriesMax),
})

/**
 * Anti-entropy: what a node holds of the CA-signed documents, small enough to send every
 * period. The receiver sends back what the sender lacks and, when `reply`, its own
 * digest so the sender does the same (push-pull in one exchange).
 */
const RevocationsKey = z.object({
  version: z.number().int().nonnegative(),
  count: z.number().int().nonnegative(),
  signature: z.string().max(4096),
})
export const TrustDigest = z.object({
  t: z.literal('trust-digest'),
  revocations: RevocationsKey.nullable(),
  /** The raced lists held beside the winner (revocations.ts); absent from older agents. */
  revocationsRaced: z.array(RevocationsKey).max(TRUST_LIMITS.revocationsRacedMax).optional(),
  settings: z.object({ version: z.number().int().nonnegative(), sig: z.string().max(1024) }).nullable(),
  /** Approved node ids, sorted; `approvalsMore` when more were held than a digest lists. */
  approvals: z.array(z.string().max(64)).max(TRUST_LIMITS.digestApprovalsMax),
  approvalsMore: z.boolean(),
  reply: z.boolean(),
})

export type TrustDigest = z.infer<typeof TrustDigest>
export type JoinRequest = z.infer<typeof JoinRequest>
export type JoinSigned = z.infer<typeof JoinSigned>
export type RenewRequest = z.infer<typeof RenewRequest>
export type NodeCertRequest = z.infer<typeof NodeCertRequest>
/** Every trust schema, for tools that read frames (the rogue peer in tests). */
export const TRUST_SCHEMAS = [
  JoinRequest,
  JoinSigned,
  JoinPending,
  JoinRefused,
  RenewRequest,
  Renewed,
  RenewRefused,
  NodeCertRequest,
  NodeCert,
  NodeCertRefused,
  Hello,
  Certs,
  Revocations,
  RevocationsPage,
  Settings,
  Approval,
  Pending,
  TrustDigest,
] as const
export type TrustMessage = z.infer<(typeof TRUST_SCHEMAS)[number]>
