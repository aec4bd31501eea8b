import { z } from 'zod'
import { RevocationList } from '../pki/revocations.js'
import { ClusterSettings } from '../state/cluster-file.js'
import { SignedSettings } from './signed-settings.js'

export const TRUST_LIMITS = {
  certsPerFrameMax: 16,
  pemCharsMax: 8192,
  pendingEntriesMax: 64,
} as const

const Pem = z.string().min(1).max(TRUST_LIMITS.pemCharsMax)
const Hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const NodeProfileName = z.enum(['kubelet', 'kubelet-serving', 'kwok'])

/** The sender's node certificate; `ask` requests the receiver's in return. */
export const Hello = z.object({ t: z.literal('hello'), cert: Pem, ask: z.boolean().default(false) })
/** Other members' certificates, for peers we are not connected to directly. */
export const Certs = z.object({
  t: z.literal('certs'),
  certs: z.array(Pem).min(1).max(TRUST_LIMITS.certsPerFrameMax),
})
/** A join (proof of the join secret, bound to this connection) or a renewal (the current certificate speaks). */
export const Join = z.object({
  t: z.literal('join'),
  mode: z.enum(['join', 'renew']),
  name: z.string().min(1).max(63),
  csr: Pem,
  proof: Hex64.optional(),
  /** Absent: the agent certificate. A member (renew) may ask for its Kubernetes node identities. */
  profile: NodeProfileName.optional(),
})
export const JoinSigned = z.object({
  t: z.literal('join-signed'),
  cert: Pem,
  ca: Pem,
  cluster: ClusterSettings,
  proof: Hex64.optional(),
  profile: NodeProfileName.optional(),
})
export const JoinPending = z.object({ t: z.literal('join-pending'), code: z.string().max(16) })
export const JoinRefused = z.object({
  t: z.literal('join-refused'),
  reason: z.string().max(64),
  message: z.string().max(512),
  profile: NodeProfileName.optional(),
})
export const JoinNotSigner = z.object({ t: z.literal('join-not-signer') })
/** CA-signed cluster settings; the highest version wins. */
export const Settings = z.object({ t: z.literal('settings'), signed: SignedSettings })
/** The CA-signed revocation list; newer versions win. */
export const Revocations = z.object({ t: z.literal('revocations'), list: RevocationList })
/** Joiners waiting for approval, as a signer sees them. */
export const Pending = z.object({
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
    .max(TRUST_LIMITS.pendingEntriesMax),
})

export const TrustMessage = z.discriminatedUnion('t', [
  Hello,
  Certs,
  Join,
  JoinSigned,
  JoinPending,
  JoinRefused,
  JoinNotSigner,
  Settings,
  Revocations,
  Pending,
])
export type TrustMessage = z.infer<typeof TrustMessage>
