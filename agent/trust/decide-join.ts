import type { JoinPolicy } from '../state/cluster-file.js'

// Who gets an agent certificate: pure functions of what the signer verified. The node
// id is never claimed by the requester: the signer derives it from the connection's
// authenticated Noise key, and a CSR naming any other id fails the signing policy
// (bad-csr). So there is no "id matches the connection" fact left to decide on.

export interface JoinFacts {
  policy: JoinPolicy
  /** The request's MAC verified against the join secret and this connection's handshake. */
  proofOk: boolean
  revoked: boolean
  /** An admin approved this node (a CA-signed approval reached this signer). */
  approved: boolean
}

export type JoinDecision =
  | { kind: 'sign' }
  | { kind: 'pending' }
  | { kind: 'refuse'; reason: 'bad-proof' | 'revoked' }

export function decideJoin(f: JoinFacts): JoinDecision {
  if (f.revoked) return { kind: 'refuse', reason: 'revoked' }
  if (!f.proofOk) return { kind: 'refuse', reason: 'bad-proof' }
  if (f.policy === 'auto' || f.approved) return { kind: 'sign' }
  return { kind: 'pending' }
}

export interface RenewalFacts {
  revoked: boolean
  /** The requester holds a valid, unrevoked agent certificate of this cluster (by its connection key). */
  member: boolean
}

export type RenewalDecision = { kind: 'sign' } | { kind: 'refuse'; reason: 'revoked' | 'no-valid-cert' }

/** A renewal needs no secret: the current certificate speaks for the node, under any policy. */
export function decideRenewal(f: RenewalFacts): RenewalDecision {
  if (f.revoked) return { kind: 'refuse', reason: 'revoked' }
  if (!f.member) return { kind: 'refuse', reason: 'no-valid-cert' }
  return { kind: 'sign' }
}

export const REFUSAL_TEXT: Record<'bad-proof' | 'revoked' | 'no-valid-cert', string> = {
  'bad-proof': 'the join secret proof does not verify for this connection',
  revoked: 'this node has been revoked',
  'no-valid-cert': 'renewal needs a valid certificate',
}

/** What a node found out about a join request for a certificate it may hold already. */
export interface HeldFacts {
  /** The request's MAC verified against the join secret and this connection's handshake. */
  proofOk: boolean
  revoked: boolean
  /** Our book holds a valid agent certificate for the requester's key… */
  member: boolean
  /** …and it is for the key of this request's CSR. */
  heldSameKey: boolean
}

/**
 * Signed once: a proven join whose key already holds a valid certificate gets that
 * certificate again, never a new signature. A certificate is public and signed once, so
 * any member holding it may hand it back (a joiner whose answer was lost, with no link
 * left to the signer that signed it, asks the members it is linked to).
 */
export function answersWithHeld(f: HeldFacts): boolean {
  return f.proofOk && !f.revoked && f.member && f.heldSameKey
}

export type MemberAnswer = { kind: 'answer-held' } | { kind: 'not-a-signer'; nameSigners: boolean }

/**
 * A node without the CA key, asked to sign: the certificate already issued if it holds
 * it (above), otherwise "no signer here", naming the signers it knows only to a joiner
 * that proved the join secret (a stranger without it learns nothing).
 */
export function decideJoinAtMember(f: HeldFacts): MemberAnswer {
  if (answersWithHeld(f)) return { kind: 'answer-held' }
  return { kind: 'not-a-signer', nameSigners: f.proofOk && !f.revoked }
}
