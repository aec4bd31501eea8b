import type { JoinPolicy } from '../state/cluster-file.js'

export interface JoinFacts {
  policy: JoinPolicy
  /** The request's MAC verified against the join secret and this connection. */
  proofOk: boolean
  /** The node id derived from the connection's Noise key equals the one claimed. */
  idMatchesConnection: boolean
  revoked: boolean
  approved: boolean
  /** Renewals: the requester already holds a valid, unrevoked certificate of this cluster. */
  renewalOf: 'none' | 'valid-cert'
}

export type JoinDecision =
  | { kind: 'sign' }
  | { kind: 'pending' }
  | { kind: 'refuse'; reason: 'bad-proof' | 'id-mismatch' | 'revoked' | 'no-valid-cert' }

/** Who gets a certificate: a pure function of what the signer verified. */
export function decideJoin(f: JoinFacts): JoinDecision {
  if (!f.idMatchesConnection) return { kind: 'refuse', reason: 'id-mismatch' }
  if (f.revoked) return { kind: 'refuse', reason: 'revoked' }
  if (f.renewalOf === 'valid-cert') return { kind: 'sign' }
  if (!f.proofOk) return { kind: 'refuse', reason: 'bad-proof' }
  if (f.policy === 'auto' || f.approved) return { kind: 'sign' }
  return { kind: 'pending' }
}
