import {
  compareRevocationKeys,
  type RevocationKey,
  type RevocationList,
  revocationKey,
} from '../pki/revocations.js'
import type { SignedApproval } from './approval.js'
import { revocationMessages } from './revocation-pages.js'
import type { SignedSettings } from './signed-settings.js'
import { TRUST_LIMITS, type TrustDigest, type TrustMessage } from './wire.js'

// Anti-entropy for the CA-signed documents (revocation list, settings, approvals). They
// are pushed when they change and handed to every new connection, but a push is one
// shot: a frame written to a connection that then closes is lost, and a node that was
// still joining when a list went round dropped it (no CA yet to check it with) and never
// hears it again while its connections last. So every period each member sends a digest
// to one peer; the peer sends back whatever the sender lacks and, when asked, its own
// digest, so the sender does the same. Two nodes that differ agree after one exchange;
// a stale node is found within a few periods however it missed the push.
// Revocation lists are compared by more than the winner: a digest names the raced lists
// too (lists that lost but hold entries the winner lacks, revocations.ts), and each raced
// list goes to every peer that names it nowhere, so it reaches a signer even when the
// signer that issued it is gone and only non-signers hold it.
//
//   tick ─▶ digest(reply) to one random member ─▶ answer: what it lacks + digest(no reply)
//                                                     └─▶ answer: what we lack (no digest: it ends)

/** What a node holds, as the digest and the answer read it. */
export interface TrustDocs {
  readonly revocations: RevocationList | undefined
  /** Raced lists held beside the winner (revocations.ts RevocationsState.raced). */
  readonly revocationsRaced: readonly RevocationList[]
  readonly settings: SignedSettings | null
  readonly approvals: ReadonlyMap<string, SignedApproval>
}

export function digestOf(docs: TrustDocs, reply: boolean): TrustDigest {
  const ids = [...docs.approvals.keys()].sort()
  return {
    t: 'trust-digest',
    revocations: docs.revocations ? revocationKey(docs.revocations) : null,
    revocationsRaced: docs.revocationsRaced.slice(0, TRUST_LIMITS.revocationsRacedMax).map(revocationKey),
    settings: docs.settings ? { version: docs.settings.version, sig: docs.settings.sig } : null,
    approvals: ids.slice(0, TRUST_LIMITS.digestApprovalsMax),
    approvalsMore: ids.length > TRUST_LIMITS.digestApprovalsMax,
    reply,
  }
}

/**
 * The answer to a peer's digest: every document of ours that wins over what it holds,
 * then, if it asked for a reply and holds something we lack, our own digest.
 */
export function answerDigest(docs: TrustDocs, theirs: TrustDigest): TrustMessage[] {
  const send: TrustMessage[] = []
  let behind = false
  const r = revocationsGap(docs, theirs)
  send.push(...r.send)
  behind ||= r.weLack
  const s = compareSettings(docs.settings, theirs.settings)
  if (s > 0 && docs.settings) send.push({ t: 'settings', signed: docs.settings })
  behind ||= s < 0
  const a = approvalsGap(docs.approvals, theirs)
  for (const approval of a.theyLack) send.push({ t: 'approval', approval })
  behind ||= a.weLack
  if (behind && theirs.reply) send.push(digestOf(docs, false))
  return send
}

/**
 * Our winner when it wins over theirs; each raced list of ours their digest names nowhere
 * (whether their winner already holds its entries cannot be told from keys: if it does,
 * the list is dropped there at the cost of one list sent). We lack something when their
 * winner wins or they name a raced list we hold nowhere.
 */
function revocationsGap(docs: TrustDocs, theirs: TrustDigest): { send: TrustMessage[]; weLack: boolean } {
  const ours = docs.revocations
  const r = compareKeys(ours ? revocationKey(ours) : null, theirs.revocations)
  const send: TrustMessage[] = ours && r > 0 ? revocationMessages(ours) : []
  const theyHold = new Set([theirs.revocations, ...(theirs.revocationsRaced ?? [])].map((k) => k?.signature))
  for (const l of docs.revocationsRaced) if (!theyHold.has(l.signature)) send.push(...revocationMessages(l))
  const weHold = new Set([ours, ...docs.revocationsRaced].map((l) => l?.signature))
  const weLack = r < 0 || (theirs.revocationsRaced ?? []).some((k) => !weHold.has(k.signature))
  return { send, weLack }
}

/** > 0 when ours wins (or only we hold one), < 0 when theirs does, 0 when the same. */
function compareKeys(ours: RevocationKey | null, theirs: RevocationKey | null): number {
  if (!ours || !theirs) return (ours ? 1 : 0) - (theirs ? 1 : 0)
  return compareRevocationKeys(ours, theirs)
}

/** The settings order (settings.ts `greater`): version, then signature. */
function compareSettings(ours: SignedSettings | null, theirs: TrustDigest['settings']): number {
  if (!ours || !theirs) return (ours ? 1 : 0) - (theirs ? 1 : 0)
  if (ours.version !== theirs.version) return ours.version - theirs.version
  return ours.sig < theirs.sig ? -1 : ours.sig > theirs.sig ? 1 : 0
}

/**
 * Approvals are a set: send those the peer does not list. A truncated digest lists the
 * lowest ids, so above its last one nothing can be told (the peer's own digest covers it).
 */
function approvalsGap(
  ours: ReadonlyMap<string, SignedApproval>,
  theirs: TrustDigest,
): { theyLack: SignedApproval[]; weLack: boolean } {
  const listed = new Set(theirs.approvals)
  const last = theirs.approvals.at(-1)
  const judged = (id: string) => !theirs.approvalsMore || (last !== undefined && id <= last)
  const theyLack = [...ours.values()].filter((a) => !listed.has(a.nodeId) && judged(a.nodeId))
  const weLack = theirs.approvalsMore || theirs.approvals.some((id) => !ours.has(id))
  return { theyLack, weLack }
}
