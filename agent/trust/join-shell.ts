import { nodeIdFromPublicKey } from '../identity/identity.js'
import type { PeerConn } from '../mesh/swarm.js'
import type { ClusterSettings } from '../state/cluster-file.js'
import type { Driver } from './driver.js'
import type { CommonEffect } from './effects.js'
import { joinProof } from './join-proof.js'
import { JOIN_ASK_TIMEOUT_MS, type JoinerEffect, type JoinerEvent, type JoinerState } from './joiner.js'
import type { TrustComponents, TrustInit } from './trust-init.js'

/** What applying the joiner's effects needs from the trust shell (machines.ts). */
export interface JoinHost {
  init: TrustInit
  c: TrustComponents
  joiner: Driver<JoinerState, JoinerEvent, JoinerEffect>
  /** One key and CSR per join attempt (null once a member, or without join material). */
  joinCsr: { csrPem: string; keyPem: string } | null
  member(): boolean
  stopped(): boolean
  /** A save in the certificate's lane (ordered with renewals; Trust.stop waits for it). */
  saveInLane(write: () => Promise<void>): void
  /** Our saved certificate into the book, announced (machines.ts adopt). */
  adoptSaved(certPem: string, keyPem: string, cluster: ClusterSettings): void
  connectionsTo(conn: PeerConn): PeerConn[]
}

/** Applies one of the joiner's own effects (joiner.ts, join-save.ts). */
export function applyJoinerEffect(h: JoinHost, f: Exclude<JoinerEffect, CommonEffect>): void {
  const { c, init } = h
  switch (f.kind) {
    case 'ask': {
      const csr = h.joinCsr
      if (!csr || !init.secret || h.member()) return
      // Its answer comes on this link: not to be shed for room meanwhile (we hold few links).
      c.hold(nodeIdFromPublicKey(Buffer.from(f.conn.remoteKeyHex, 'hex')), JOIN_ASK_TIMEOUT_MS)
      // On every connection to that peer, each with its own proof: of a duplicate pair
      // hyperswarm closes one, and a question on it is lost. A second copy is answered
      // with the certificate just issued: still one signature.
      for (const conn of h.connectionsTo(f.conn)) {
        const proof = joinProof(init.secret, conn.handshakeHash, c.identity.id, csr.csrPem)
        c.router.send(conn, { t: 'join-request', name: init.nodeName, csr: csr.csrPem, proof })
      }
      return
    }
    case 'reach':
      // None of our links signs: a member named this one (rare; worth a line when a join is slow).
      c.log.info({ signer: f.signer.key.slice(0, 12) }, 'join: linking to a signer a member named')
      c.reachPeer(f.signer, f.forMs)
      return
    case 'save':
      saveJoinCert(h, f)
      return
    case 'adopt':
      // On disk now (join-save.ts): a member from here on.
      if (h.joinCsr) h.adoptSaved(f.certPem, h.joinCsr.keyPem, f.cluster)
      return
    default:
      return
  }
}

/**
 * The certificate a join brought, to disk before it makes us a member: checked against
 * the book first (the book takes it only once saved: the mesh gate opens with it), then
 * written and fsynced. The outcome goes back to the joiner.
 */
function saveJoinCert(h: JoinHost, f: { certPem: string; caPem: string }): void {
  const { c } = h
  const csr = h.joinCsr
  if (!csr) return
  c.book.setCa(f.caPem)
  const checked = c.book.check(c.identity.id, f.certPem)
  if (!checked.ok) {
    c.log.warn({ reason: checked.reason, detail: checked.detail }, 'the signed certificate does not verify')
    h.joiner.feed({ kind: 'unusable' })
    return
  }
  const material = { certPem: f.certPem, keyPem: csr.keyPem, caPem: f.caPem }
  h.saveInLane(async () => {
    const failed = await c.store.saveCertificate(material).then(
      () => null,
      (err: unknown) => (err as Error)?.message ?? String(err),
    )
    if (h.stopped()) return
    if (failed === null) h.joiner.feed({ kind: 'saved' })
    else h.joiner.feed({ kind: 'save-failed', nodeId: c.identity.id, message: failed })
  })
}
