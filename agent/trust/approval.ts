import { createPrivateKey, sign, verify, X509Certificate } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../core/canonical.js'

/**
 * An admin's approval of one pending node, signed with the CA key by the signer that
 * took it. It travels to every node like the revocation list, so whichever signer
 * the joiner reaches signs it: with many signers and bounded connections the joiner
 * may never talk to the one the admin used. Approving is idempotent (a set of node
 * ids), so two signers approving at once cannot conflict.
 */
export const SignedApproval = z.object({
  clusterId: z.string().min(1).max(64),
  nodeId: z.string().min(1).max(64),
  name: z.string().min(1).max(63),
  approvedAtMs: z.number().int().nonnegative(),
  sig: z.string().min(1).max(1024),
})
export type SignedApproval = z.infer<typeof SignedApproval>
type Body = Omit<SignedApproval, 'sig'>

function bytes(b: Body): Buffer {
  const { clusterId, nodeId, name, approvedAtMs } = b
  return Buffer.from(`homecloud/approval/v1\n${canonicalJson({ clusterId, nodeId, name, approvedAtMs })}`)
}

export function signApproval(body: Body, caKeyPem: string): SignedApproval {
  return { ...body, sig: sign('sha256', bytes(body), createPrivateKey(caKeyPem)).toString('base64') }
}

export function verifyApproval(a: SignedApproval, caPem: string, clusterId: string): boolean {
  if (a.clusterId !== clusterId) return false
  try {
    return verify('sha256', bytes(a), new X509Certificate(caPem).publicKey, Buffer.from(a.sig, 'base64'))
  } catch {
    return false
  }
}
