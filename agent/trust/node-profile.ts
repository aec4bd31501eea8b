import type { Clock } from '../core/clock.js'
import { HomecloudError } from '../core/errors.js'
import type { CaMaterial } from '../pki/ca.js'
import { signCertificate } from '../pki/sign.js'

// A member asks a signer for its Kubernetes identities (kubelet: `system:node:<name>`, the
// kubelet's serving certificate for its own name and addresses, kwok in labs) over the mesh, with a CSR. Workers never hold the CA key, so this is how
// every node becomes a Node. The signer grants only the requester's own name — the one
// its signed mesh record carries — so no node can ever act as another towards the node
// authorizer. The CSR's subject must then match exactly (pki/policy).

export const NODE_PROFILES = ['kubelet', 'kubelet-serving', 'kwok'] as const
export type NodeProfile = (typeof NODE_PROFILES)[number]

export interface NodeProfileRequest {
  profile: NodeProfile
  /** The requester as the signer knows it: id from the connection's Noise key. */
  requester: { id: string; name: string | undefined; member: boolean; revoked: boolean }
  /**
   * The requester's addresses from its signed mesh record, never from the request: a
   * kubelet serving certificate names exactly those, so no node can answer for another's.
   */
  requesterAddresses?: readonly string[]
  /** The node name the request asks for. */
  askedName: string
  csrPem: string
  /** Other members' ids, names and addresses. */
  reservedNames: readonly string[]
  ca: CaMaterial
  clock: Pick<Clock, 'nowMs'>
  validityMs?: number
}

export type NodeProfileRefusal = 'not-member' | 'revoked' | 'unknown-node' | 'name-not-own' | 'bad-csr'

export type NodeProfileResult =
  | { ok: true; certPem: string; serial: string }
  | { ok: false; reason: NodeProfileRefusal; message: string }

export type NodeProfileCheck = Pick<NodeProfileRequest, 'profile' | 'requester' | 'askedName'>

/** Who may have this identity at all, before the CSR is looked at (pure: the signer machine asks it). */
export function checkNodeProfile(
  r: NodeProfileCheck,
): { ok: true } | { ok: false; reason: NodeProfileRefusal; message: string } {
  const refuse = (reason: NodeProfileRefusal, message: string) => ({ ok: false as const, reason, message })
  if (r.requester.revoked) return refuse('revoked', 'this node has been revoked')
  if (!r.requester.member)
    return refuse('not-member', `a ${r.profile} certificate needs a valid node certificate`)
  if (!r.requester.name) return refuse('unknown-node', 'the signer has no record of this node yet; retry')
  if (r.askedName !== r.requester.name) {
    return refuse(
      'name-not-own',
      `a ${r.profile} certificate for ${r.askedName} was asked by ${r.requester.name}: a node may only ask for its own name`,
    )
  }
  return { ok: true }
}

export function signNodeProfile(r: NodeProfileRequest): NodeProfileResult {
  const check = checkNodeProfile(r)
  if (!check.ok) return check
  try {
    const cert = signCertificate({
      profile: r.profile,
      identity: { nodeId: r.requester.id, nodeName: r.askedName, ips: r.requesterAddresses ?? [] },
      reservedNames: r.reservedNames,
      csrPem: r.csrPem,
      ca: r.ca,
      clock: r.clock,
      ...(r.validityMs !== undefined ? { validityMs: r.validityMs } : {}),
    })
    return { ok: true, certPem: cert.certPem, serial: cert.serial }
  } catch (err) {
    const code = err instanceof HomecloudError ? `${err.code}: ` : ''
    return { ok: false, reason: 'bad-csr', message: `${code}${(err as Error).message}` }
  }
}
