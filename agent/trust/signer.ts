import type { PeerConn } from '../mesh/swarm.js'
import type { JoinPolicy } from '../state/cluster-file.js'
import { answersWithHeld, decideJoin, decideRenewal, REFUSAL_TEXT } from './decide-join.js'
import { bounded, type CommonEffect, count, log, type Step } from './effects.js'
import { checkNodeProfile, type NodeProfile } from './node-profile.js'
import { type PendingEntry, TRUST_LIMITS, type TrustMessage } from './wire.js'

// The signer: every node holding the CA key (the founder and the etcd voters) answers
// joins, renewals and Kubernetes node-certificate requests. Pure: the shell verifies the
// request's proof and looks the requester up, this decides; signing itself is an effect
// whose outcome comes back as `issued` or `issue-failed`.
//
//   join-request ─┬─ revoked / bad proof ─────────────▶ refuse
//                 ├─ proven, a cert for its key held ──▶ answer with it (no new signature)
//                 ├─ policy approve, not approved ─────▶ pending (listed, gossiped)
//                 ├─ name of another member ───────────▶ refuse name-taken
//                 └─ otherwise ─▶ issue ─┬─ issued ──────▶ reply join-signed, forget pending
//                                        └─ issue-failed ─▶ refuse bad-csr
//   renew-request / node-cert-request: the same, decided by decideRenewal / checkNodeProfile.

/**
 * A signer holds links to the other signers this long after a join it signed: one that
 * the joiner asks next, if our answer was lost, then answers with our certificate instead
 * of signing again. Longer than the joiner's wait for our answer (JOIN_ASK_TIMEOUT_MS).
 */
export const SHARE_WITH_SIGNERS_MS = 15_000

/** A joiner silent this long is no longer listed as pending. */
export const PENDING_FORGET_MS = 5 * 60_000

export type Purpose = 'join' | 'renew' | NodeProfile

export interface IssueRequest {
  nodeId: string
  name: string
  csrPem: string
  purpose: Purpose
}

export interface SignerState {
  readonly pending: ReadonlyMap<string, PendingEntry & { lastMs: number }>
}

/** What the shell found out about a requester (node id from the connection's Noise key). */
export interface Requester {
  nodeId: string
  revoked: boolean
  /** Holds a valid agent certificate in our book. */
  member: boolean
  /** The agent certificate our book holds for it. */
  heldCertPem: string | undefined
  /** Its name from its signed mesh record, if we have one. */
  recordName: string | undefined
  /** Names of every other member: nobody may take them. */
  namesTaken: ReadonlySet<string>
}

export type SignerEvent =
  | {
      kind: 'join-request'
      conn: PeerConn
      who: Requester
      name: string
      csrPem: string
      proofOk: boolean
      /** The certificate our book holds for the requester (`who.heldCertPem`) is for this CSR's key. */
      heldSameKey: boolean
      code: string
      policy: JoinPolicy
      approved: boolean
    }
  | { kind: 'renew-request'; conn: PeerConn; who: Requester; name: string; csrPem: string }
  | {
      kind: 'node-cert-request'
      conn: PeerConn
      who: Requester
      profile: NodeProfile
      name: string
      csrPem: string
    }
  | { kind: 'issued'; conn: PeerConn; request: IssueRequest; certPem: string; serial: string }
  | { kind: 'issue-failed'; conn: PeerConn; request: IssueRequest; message: string }
  | { kind: 'connected'; conn: PeerConn }
  | { kind: 'tick' }

export type SignerEffect =
  | CommonEffect
  | { kind: 'issue'; conn: PeerConn; request: IssueRequest }
  /** Reply with the certificate, the CA and the settings, under the join secret's proof for this connection. */
  | { kind: 'reply-join-signed'; conn: PeerConn; nodeId: string; certPem: string }
  /** Keep a certificate we issued in the book (the node is a member from now on). */
  | { kind: 'remember-cert'; nodeId: string; certPem: string }
  /**
   * Hold a link to every other signer for `forMs`: the link's certificate exchange hands
   * them the join certificate we just issued (the broadcast reaches only our links).
   */
  | { kind: 'reach-signers'; forMs: number }

export function signerStart(): SignerState {
  return { pending: new Map() }
}

export function signerStep(s: SignerState, e: SignerEvent, nowMs: number): Step<SignerState, SignerEffect> {
  switch (e.kind) {
    case 'join-request':
      return onJoinRequest(s, e, nowMs)
    case 'renew-request': {
      const d = decideRenewal({ revoked: e.who.revoked, member: e.who.member })
      if (d.kind === 'refuse') return { state: s, effects: refuse(e.conn, 'renew', e.who.nodeId, d.reason) }
      return issueUnlessTaken(s, e.conn, e.who, {
        nodeId: e.who.nodeId,
        name: e.name,
        csrPem: e.csrPem,
        purpose: 'renew',
      })
    }
    case 'node-cert-request': {
      const c = checkNodeProfile({
        profile: e.profile,
        askedName: e.name,
        requester: { id: e.who.nodeId, name: e.who.recordName, member: e.who.member, revoked: e.who.revoked },
      })
      if (!c.ok)
        return { state: s, effects: refuseNodeCert(e.conn, e.who.nodeId, e.profile, c.reason, c.message) }
      const request = { nodeId: e.who.nodeId, name: e.name, csrPem: e.csrPem, purpose: e.profile }
      return { state: s, effects: [{ kind: 'issue', conn: e.conn, request }] }
    }
    case 'issued':
      return onIssued(s, e)
    case 'issue-failed': {
      const { request: r, conn } = e
      if (r.purpose === 'join' || r.purpose === 'renew')
        return {
          state: s,
          effects: refuse(conn, r.purpose, r.nodeId, 'bad-csr', `certificate request refused: ${e.message}`),
        }
      return { state: s, effects: refuseNodeCert(conn, r.nodeId, r.purpose, 'bad-csr', e.message) }
    }
    case 'connected':
      return {
        state: s,
        effects: s.pending.size > 0 ? [{ kind: 'send', conn: e.conn, msg: pendingMessage(s) }] : [],
      }
    case 'tick':
      return forgetSilent(s, nowMs)
  }
}

function onJoinRequest(
  s: SignerState,
  e: Extract<SignerEvent, { kind: 'join-request' }>,
  nowMs: number,
): Step<SignerState, SignerEffect> {
  const { who } = e
  // Signed once: a join whose key already holds a valid certificate in our book — ours,
  // or another signer's that reached us (signers pass each one on, and the joiner
  // announces it) — gets that certificate again, not a new signature. This answers a
  // joiner whose reply was lost, that restarted, or that moved on from a signer that
  // stalled after signing; it also kept a burst of retrying joiners from outrunning a
  // signer (pure-JS signing, tens of ms each).
  const held = { proofOk: e.proofOk, revoked: who.revoked, member: who.member, heldSameKey: e.heldSameKey }
  if (who.heldCertPem && answersWithHeld(held))
    return {
      state: s,
      effects: [
        count('homecloud_joins_answered_again_total', { by: 'signer' }),
        { kind: 'reply-join-signed', conn: e.conn, nodeId: who.nodeId, certPem: who.heldCertPem },
      ],
    }
  const d = decideJoin({ policy: e.policy, proofOk: e.proofOk, revoked: who.revoked, approved: e.approved })
  if (d.kind === 'refuse') return { state: s, effects: refuse(e.conn, 'join', who.nodeId, d.reason) }
  if (d.kind === 'pending') return onPending(s, e, nowMs)
  return issueUnlessTaken(s, e.conn, who, {
    nodeId: who.nodeId,
    name: e.name,
    csrPem: e.csrPem,
    purpose: 'join',
  })
}

function onPending(
  s: SignerState,
  e: Extract<SignerEvent, { kind: 'join-request' }>,
  nowMs: number,
): Step<SignerState, SignerEffect> {
  const id = e.who.nodeId
  const had = s.pending.get(id)
  const pending = new Map(s.pending)
  pending.set(id, { id, name: e.name, code: e.code, sinceMs: had?.sinceMs ?? nowMs, lastMs: nowMs })
  const state = { ...s, pending }
  const reply: SignerEffect = { kind: 'send', conn: e.conn, msg: { t: 'join-pending', code: e.code } }
  if (had) return { state, effects: [reply] }
  return {
    state,
    effects: [
      log('info', `${e.name} asks to join: approve with \`homecloud approve ${e.name}\``, {
        node: id,
        name: e.name,
        code: e.code,
      }),
      {
        kind: 'event',
        event: {
          kind: 'pending',
          id,
          name: e.name,
          message: `${e.name} waits for approval (code ${e.code})`,
        },
      },
      { kind: 'broadcast', msg: pendingMessage(state) },
      reply,
    ],
  }
}

/** Names, ids and addresses of every other member are theirs alone: nobody may take them. */
function issueUnlessTaken(
  s: SignerState,
  conn: PeerConn,
  who: Requester,
  request: IssueRequest,
): Step<SignerState, SignerEffect> {
  if (who.namesTaken.has(request.name)) {
    const purpose = request.purpose === 'renew' ? 'renew' : 'join'
    const text = `the name ${request.name} belongs to another member`
    return { state: s, effects: refuse(conn, purpose, who.nodeId, 'name-taken', text) }
  }
  return { state: s, effects: [{ kind: 'issue', conn, request }] }
}

function onIssued(
  s: SignerState,
  e: Extract<SignerEvent, { kind: 'issued' }>,
): Step<SignerState, SignerEffect> {
  const { request: r, conn, certPem, serial } = e
  const fields = { node: r.nodeId, name: r.name, serial }
  if (r.purpose !== 'join' && r.purpose !== 'renew')
    return {
      state: s,
      effects: [
        count('homecloud_certificates_signed_total', { mode: r.purpose }),
        log('info', `signed a ${r.purpose} certificate`, { ...fields, profile: r.purpose }),
        { kind: 'send', conn, msg: { t: 'node-cert', profile: r.purpose, cert: certPem } },
      ],
    }
  const remember: SignerEffect = { kind: 'remember-cert', nodeId: r.nodeId, certPem }
  const signed = count('homecloud_certificates_signed_total', { mode: r.purpose })
  if (r.purpose === 'renew')
    return {
      state: s,
      effects: [
        remember,
        signed,
        log('info', 'signed a node certificate', { ...fields, mode: 'renew' }),
        { kind: 'send', conn, msg: { t: 'renewed', cert: certPem } },
      ],
    }
  const pending = new Map(s.pending)
  const wasPending = pending.delete(r.nodeId)
  const state = { pending }
  return {
    state,
    effects: [
      remember,
      // Every signer we reach learns it at once: one the joiner asks next answers with it.
      // With bounded links the other signers may not be among ours: we link to them (the
      // 50-agent lab signed 8 joiners twice when answers were lost).
      { kind: 'broadcast', msg: { t: 'certs', certs: [certPem] } },
      { kind: 'reach-signers', forMs: SHARE_WITH_SIGNERS_MS },
      ...(wasPending ? [{ kind: 'broadcast', msg: pendingMessage(state) } as const] : []),
      signed,
      count('homecloud_joins_total'),
      {
        kind: 'event',
        event: {
          kind: 'admitted',
          id: r.nodeId,
          name: r.name,
          message: `${r.name} admitted: certificate signed`,
        },
      },
      log('info', 'signed a node certificate', { ...fields, mode: 'join' }),
      { kind: 'reply-join-signed', conn, nodeId: r.nodeId, certPem },
    ],
  }
}

function forgetSilent(s: SignerState, nowMs: number): Step<SignerState, SignerEffect> {
  const stale = [...s.pending.values()].filter((e) => nowMs - e.lastMs > PENDING_FORGET_MS)
  if (stale.length === 0) return { state: s, effects: [] }
  const pending = new Map(s.pending)
  for (const e of stale) pending.delete(e.id)
  const state = { ...s, pending }
  return { state, effects: [{ kind: 'broadcast', msg: pendingMessage(state) }] }
}

export function pendingMessage(s: SignerState): TrustMessage {
  return {
    t: 'pending',
    entries: [...s.pending.values()]
      .slice(0, TRUST_LIMITS.pendingEntriesMax)
      .map(({ id, name, code, sinceMs }) => ({ id, name, code, sinceMs })),
  }
}

function refuse(
  conn: PeerConn,
  purpose: 'join' | 'renew',
  nodeId: string,
  reason: string,
  text?: string,
): SignerEffect[] {
  const message = bounded(
    text ?? REFUSAL_TEXT[reason as keyof typeof REFUSAL_TEXT] ?? reason,
    TRUST_LIMITS.refusalCharsMax,
  )
  const t = purpose === 'join' ? 'join-refused' : 'renew-refused'
  return [
    count('homecloud_joins_refused_total', { reason }),
    log('warn', `refused a ${purpose}: ${message}`, {
      peer: conn.remoteKeyHex.slice(0, 12),
      node: nodeId,
      reason,
    }),
    { kind: 'send', conn, msg: { t, reason, message } },
  ]
}

function refuseNodeCert(
  conn: PeerConn,
  nodeId: string,
  profile: NodeProfile,
  reason: string,
  text: string,
): SignerEffect[] {
  const message = bounded(text, TRUST_LIMITS.refusalCharsMax)
  return [
    count('homecloud_node_certificates_refused_total', { profile, reason }),
    log('warn', `refused a ${profile} certificate: ${message}`, { node: nodeId, profile, reason }),
    { kind: 'send', conn, msg: { t: 'node-cert-refused', profile, reason, message } },
  ]
}
