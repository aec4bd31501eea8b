import { nodeIdFromPublicKey } from '../identity/identity.js'
import type { PeerConn } from '../mesh/swarm.js'
import { verifyRevocations } from '../pki/revocations.js'
import { answerDigest } from './anti-entropy.js'
import { verifyApproval } from './approval.js'
import { decideJoinAtMember } from './decide-join.js'
import { joinProof, proofMatches, replyProof, shortCode } from './join-proof.js'
import { JOIN_ASK_TIMEOUT_MS, NOT_A_SIGNER, signerHints } from './joiner.js'
import type { Machines } from './machines.js'
import { holdsItsNames } from './names-held.js'
import { addPage, pagesStart } from './revocation-pages.js'
import { verifySettings } from './signed-settings.js'
import type { Requester } from './signer.js'
import { certForCsrKey } from './signing.js'
import type { TrustComponents } from './trust-init.js'
import {
  Approval,
  JoinPending,
  JoinRefused,
  JoinRequest,
  JoinSigned,
  NodeCert,
  NodeCertRefused,
  NodeCertRequest,
  Pending,
  Renewed,
  RenewRefused,
  RenewRequest,
  Revocations,
  RevocationsPage,
  Settings,
  TrustDigest,
} from './wire.js'

const DROPPED = 'homecloud_mesh_messages_dropped_total'
/** Documents sent because a peer's digest showed it lacked them: pushes that had not reached it. */
const REPAIRS = 'homecloud_trust_repairs_total'

/**
 * The trust protocols' messages on the mesh router: each becomes an event of one state
 * machine, carrying what the shell verified about it (proofs bound to this connection's
 * handshake, signatures by our CA, the requester as our book and the mesh know it).
 * Requests reach the signer machine only on nodes holding the CA key; others ignore them.
 */
export function registerRoutes(m: Machines, c: TrustComponents): void {
  const { router } = c
  router.onConnection((conn) => onConnection(m, conn))
  registerJoin(m, c)
  router.route('renew-request', RenewRequest, (conn, msg) => {
    if (m.ca)
      m.signer.feed({ kind: 'renew-request', conn, who: requester(m, conn), name: msg.name, csrPem: msg.csr })
  })
  router.route('renewed', Renewed, (conn, msg) =>
    m.identity.feed({ kind: 'renewed', conn, certPem: msg.cert, ours: m.own.renewalIsOurs(msg.cert) }),
  )
  router.route('renew-refused', RenewRefused, (conn, msg) =>
    m.identity.feed({ kind: 'renew-refused', from: short(conn), reason: msg.reason, message: msg.message }),
  )
  router.route('node-cert-request', NodeCertRequest, (conn, msg) => {
    if (!m.ca) return
    const who = requester(m, conn)
    m.signer.feed({
      kind: 'node-cert-request',
      conn,
      who,
      profile: msg.profile,
      name: msg.name,
      csrPem: msg.csr,
    })
  })
  router.route('node-cert', NodeCert, (_conn, msg) =>
    m.identity.feed({
      kind: 'node-cert',
      profile: msg.profile,
      certPem: msg.cert,
      ours: m.own.nodeCertIsOurs(msg.profile, msg.cert),
    }),
  )
  router.route('node-cert-refused', NodeCertRefused, (_conn, msg) =>
    m.identity.feed({
      kind: 'node-cert-refused',
      profile: msg.profile,
      reason: msg.reason,
      message: msg.message,
    }),
  )
  registerGossip(m, c)
}

function registerJoin(m: Machines, c: TrustComponents): void {
  const { router } = c
  router.route('join-request', JoinRequest, (conn, msg) => {
    if (!m.ca) {
      answerAsMember(m, c, conn, msg)
      return
    }
    const who = requester(m, conn)
    // A joiner is a stranger here, and strangers past a few are shed newest first: with
    // dozens joining at once (and signing slow on a loaded machine) the link went before
    // the answer, which was then lost (the 50-agent lab). Held until it has been answered.
    c.hold(who.nodeId, JOIN_ANSWER_HOLD_MS)
    const secret = m.init.secret
    m.signer.feed({
      kind: 'join-request',
      conn,
      who,
      name: msg.name,
      csrPem: msg.csr,
      proofOk:
        secret !== null &&
        proofMatches(joinProof(secret, conn.handshakeHash, who.nodeId, msg.csr), msg.proof),
      heldSameKey: who.heldCertPem !== undefined && certForCsrKey(who.heldCertPem, msg.csr),
      code: shortCode(conn.remoteKeyHex),
      policy: m.settings.state.cluster.joinPolicy,
      approved: m.approvals.state.approvals.has(who.nodeId),
    })
  })
  router.route('join-signed', JoinSigned, (conn, msg) => {
    if (m.node) return
    const secret = m.init.secret
    const selfId = c.identity.id
    m.joiner.feed({
      kind: 'signed',
      conn,
      proofOk:
        secret !== null &&
        proofMatches(replyProof(secret, conn.handshakeHash, selfId, msg.cert, msg.ca), msg.proof),
      clusterMatches: msg.cluster.id === m.init.cluster.id,
      certForUs: m.own.joinCertIsOurs(msg.cert, msg.ca),
      certPem: msg.cert,
      caPem: msg.ca,
      cluster: msg.cluster,
    })
  })
  router.route('join-pending', JoinPending, (_conn, msg) =>
    m.joiner.feed({ kind: 'pending', code: msg.code }),
  )
  router.route('join-refused', JoinRefused, (conn, msg) => {
    m.joiner.feed({
      kind: 'refused',
      conn,
      reason: msg.reason,
      message: msg.message,
      ...(msg.signers ? { signers: msg.signers } : {}),
      conns: c.peers.connections(),
      monoMs: c.clock.monoMs(),
    })
  })
}

/**
 * A join request at a node without the CA key (decide-join.ts decideJoinAtMember): the
 * certificate already issued for the joiner's key if our book holds it (the joiner's
 * answer was lost and its link to that signer with it), otherwise "no signer here" so
 * that it asks the next peer at once (joiner.ts), naming the signers we see alive.
 */
function answerAsMember(m: Machines, c: TrustComponents, conn: PeerConn, msg: JoinRequest): void {
  const secret = m.init.secret
  const who = requester(m, conn)
  const d = decideJoinAtMember({
    proofOk:
      secret !== null && proofMatches(joinProof(secret, conn.handshakeHash, who.nodeId, msg.csr), msg.proof),
    revoked: who.revoked,
    member: who.member,
    heldSameKey: who.heldCertPem !== undefined && certForCsrKey(who.heldCertPem, msg.csr),
  })
  if (d.kind === 'answer-held' && who.heldCertPem && m.replyJoinSigned(conn, who.nodeId, who.heldCertPem)) {
    c.counters.inc('homecloud_joins_answered_again_total', { by: 'member' })
    return
  }
  const signers =
    d.kind === 'not-a-signer' && d.nameSigners
      ? signerHints(c.peers.aliveVoters().map((v) => v.signed.body))
      : []
  c.router.send(conn, {
    t: 'join-refused',
    reason: NOT_A_SIGNER,
    message: 'this node holds no CA key',
    signers,
  })
}

function registerGossip(m: Machines, c: TrustComponents): void {
  const { router, book, counters, log } = c
  const clusterId = m.init.cluster.id
  const onList = (conn: PeerConn, list: unknown) => {
    const ca = book.ca
    if (!ca) return
    const v = verifyRevocations(list, ca, { clusterId })
    if (!v.ok) {
      counters.inc(DROPPED, { reason: 'bad-revocations' })
      log.warn({ peer: short(conn), reason: v.reason }, 'refused a revocation list')
      return
    }
    m.revocations.feed({ kind: 'received', list: v.list, signer: m.ca !== null })
  }
  router.route('revocations', Revocations, (conn, msg) => onList(conn, msg.list))
  // A list too big for one frame comes in pages (revocation-pages.ts), from any peers.
  let pages = pagesStart()
  router.route('revocations-page', RevocationsPage, (conn, msg) => {
    if (!book.ca) return
    const { list, raced } = m.revocations.state
    const held = [list, ...raced].flatMap((l) => (l ? [l.signature] : []))
    const r = addPage(pages, msg, held, c.clock.monoMs())
    pages = r.state
    if (r.outcome.kind === 'complete') onList(conn, r.outcome.list)
    else if (r.outcome.kind === 'refused') {
      counters.inc(DROPPED, { reason: 'bad-revocations' })
      log.warn({ peer: short(conn), reason: r.outcome.message }, 'refused the pages of a revocation list')
    }
  })
  router.route('settings', Settings, (_conn, msg) => {
    const ca = book.ca
    if (!ca || !verifySettings(msg.signed, ca, clusterId)) {
      counters.inc(DROPPED, { reason: 'bad-settings' })
      return
    }
    m.settings.feed({ kind: 'received', signed: msg.signed })
  })
  router.route('approval', Approval, (_conn, msg) => {
    // A joiner has no CA to check it with, and no use for it.
    const ca = book.ca
    if (!ca) return
    if (!verifyApproval(msg.approval, ca, clusterId)) {
      counters.inc(DROPPED, { reason: 'bad-approval' })
      return
    }
    // Its node holds a certificate already: the approval was used (and forgotten) here.
    if (book.isMember(msg.approval.nodeId)) return
    m.approvals.feed({ kind: 'approval', approval: msg.approval })
  })
  router.route('trust-digest', TrustDigest, (conn, msg) => {
    // Members only: a stranger must not make us send every approval we hold.
    if (!book.ca || !book.isMember(nodeIdOf(conn))) return
    for (const out of answerDigest(m.docs(), msg)) {
      if (out.t !== 'trust-digest') counters.inc(REPAIRS, { what: out.t })
      router.send(conn, out)
    }
  })
  router.route('pending', Pending, (conn, msg) => {
    const from = nodeIdOf(conn)
    m.approvals.feed({ kind: 'pending-list', from, fromMember: book.isMember(from), entries: msg.entries })
  })
}

/** A new connection: a member shows its certificates and what a newcomer must know; a joiner asks. */
function onConnection(m: Machines, conn: PeerConn): void {
  if (!m.node) {
    m.joiner.feed({ kind: 'connected', conn, conns: m.c.peers.connections(), monoMs: m.c.clock.monoMs() })
    return
  }
  m.exchange.sendCerts(conn)
  m.revocations.feed({ kind: 'connected', conn })
  m.settings.feed({ kind: 'connected', conn })
  m.approvals.feed({ kind: 'connected', conn })
  if (m.ca) m.signer.feed({ kind: 'connected', conn })
}

/** The requester as we know it: its id from the connection's Noise key, never from the request. */
function requester(m: Machines, conn: PeerConn): Requester {
  const { book, peers } = m.c
  const nodeId = nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))
  const others = peers.members().filter((x) => x.signed.body.id !== nodeId && holdsItsNames(x))
  return {
    nodeId,
    revoked: book.isRevoked(nodeId),
    member: book.isMember(nodeId),
    heldCertPem: book.get(nodeId)?.certPem,
    recordName: peers.byId(nodeId)?.signed.body.name,
    namesTaken: new Set(others.map((x) => x.signed.body.name)),
  }
}

/** A signer holds a joiner's link this long after its question (its answer, then its hello). */
const JOIN_ANSWER_HOLD_MS = 2 * JOIN_ASK_TIMEOUT_MS

const short = (conn: PeerConn) => conn.remoteKeyHex.slice(0, 12)
const nodeIdOf = (conn: PeerConn) => nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))
