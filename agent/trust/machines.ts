import { SaveLanes, saveFailed } from '../core/saves.js'
import { nodeIdFromPublicKey } from '../identity/identity.js'
import type { PeerConn } from '../mesh/swarm.js'
import type { CaMaterial } from '../pki/ca.js'
import { readCertificate } from '../pki/cert.js'
import { createCsr } from '../pki/csr.js'
import { signRevocations } from '../pki/revocations.js'
import { clusterSettings } from '../state/cluster-file.js'
import { digestOf, type TrustDocs } from './anti-entropy.js'
import { signApproval } from './approval.js'
import {
  type ApprovalsEffect,
  type ApprovalsEvent,
  type ApprovalsState,
  approvalsStart,
  approvalsStep,
} from './approvals.js'
import { CertExchange } from './cert-exchange.js'
import { Driver, type EffectSinks } from './driver.js'
import type { CommonEffect } from './effects.js'
import type { IdentityEffect, IdentityEvent, IdentityState } from './identity.js'
import { replyProof, shortCode } from './join-proof.js'
import { applyJoinerEffect, type JoinHost } from './join-shell.js'
import { type JoinerEffect, type JoinerEvent, type JoinerState, joinerStart, joinerStep } from './joiner.js'
import { holdsItsNames } from './names-held.js'
import { OwnIdentity } from './own-identity.js'
import {
  type RevocationsEffect,
  type RevocationsEvent,
  type RevocationsState,
  revocationsStart,
  revocationsStep,
} from './revocations.js'
import {
  type SettingsEffect,
  type SettingsEvent,
  type SettingsState,
  settingsStart,
  settingsStep,
} from './settings.js'
import { signSettings } from './signed-settings.js'
import {
  type IssueRequest,
  type SignerEffect,
  type SignerEvent,
  type SignerState,
  signerStart,
  signerStep,
} from './signer.js'
import { caKeyMatches, issueFor } from './signing.js'
import type { TrustComponents, TrustInit } from './trust-init.js'
import type { PendingEntry } from './wire.js'

export type CertificateMaterial = { certPem: string; keyPem: string; caPem: string }
type Csr = { csrPem: string; keyPem: string }

/**
 * The shell around the trust state machines: it holds their states (through a Driver
 * each), the CA key and our certificate, and applies what the machines ask for —
 * keys, CSRs, signatures, the certificate book, files, messages.
 */
export class Machines {
  readonly joiner: Driver<JoinerState, JoinerEvent, JoinerEffect>
  readonly signer: Driver<SignerState, SignerEvent, SignerEffect>
  readonly own: OwnIdentity
  readonly revocations: Driver<RevocationsState, RevocationsEvent, RevocationsEffect>
  readonly settings: Driver<SettingsState, SettingsEvent, SettingsEffect>
  readonly approvals: Driver<ApprovalsState, ApprovalsEvent, ApprovalsEffect>
  readonly exchange: CertExchange
  readonly certificateListeners: ((c: CertificateMaterial) => void)[] = []
  ca: CaMaterial | null
  node: { certPem: string; keyPem: string } | null
  private readonly joinCsr: Csr | null
  /** Each file's saves in the order asked: an older list must never land after a newer one. */
  readonly saves: SaveLanes
  private stopped = false

  constructor(
    readonly init: TrustInit,
    readonly c: TrustComponents,
  ) {
    const sinks: EffectSinks = c
    this.ca = init.ca
    this.node = init.node
    this.saves = new SaveLanes((what) => saveFailed(c.log, c.counters, what))
    if (init.node) c.book.add(c.identity.id, init.node.certPem)
    // One key and CSR per join attempt, reused across connections, retries and restarts.
    this.joinCsr =
      init.node || !init.joinKeyPem ? null : createCsr({ commonName: c.identity.id, keyPem: init.joinKeyPem })
    const code = shortCode(c.identity.publicKey.toString('hex'))
    this.joiner = new Driver(
      joinerStart(code, init.nodeName, init.node !== null),
      joinerStep,
      (f) => this.onJoiner(f),
      sinks,
    )
    this.signer = new Driver(signerStart(), signerStep, (f) => this.onSigner(f), sinks)
    this.revocations = new Driver(
      revocationsStart(init.cluster.id, init.revocations, init.revocationsRaced),
      (s, e) => revocationsStep(s, e),
      (f) => this.onRevocations(f),
      sinks,
    )
    this.settings = new Driver(
      settingsStart(init.cluster, init.signedSettings),
      (s, e) => settingsStep(s, e),
      (f) => this.onSettings(f),
      sinks,
    )
    this.approvals = new Driver(
      approvalsStart(init.approvals),
      (s, e) => approvalsStep(s, e),
      (f) => this.onApprovals(f),
      sinks,
    )
    this.exchange = new CertExchange({ ...c, ownCert: () => this.node?.certPem ?? null })
    this.own = new OwnIdentity(
      {
        c,
        nodeName: init.nodeName,
        host: init.host,
        joinCsr: this.joinCsr,
        cert: init.node ? validity(init.node.certPem) : null,
        ca: () => this.ca,
        validityMs: () => this.settings.state.cluster.certValidityMs,
        adopt: (certPem, keyPem, renewing) => this.adopt(certPem, keyPem, renewing),
        stopped: () => this.stopped,
      },
      sinks,
    )
  }

  get identity(): Driver<IdentityState, IdentityEvent, IdentityEffect> {
    return this.own.driver
  }

  setCaKey(keyPem: string | null): boolean {
    if (keyPem === null) {
      if (this.ca) this.c.log.info('no longer a signer: the CA key is gone from this node')
      this.ca = null
      return true
    }
    const caPem = this.c.book.ca
    if (!caPem || !caKeyMatches(caPem, keyPem)) return false
    if (!this.ca) this.c.log.info('now a signer: this node holds the CA key')
    this.ca = { certPem: caPem, keyPem }
    return true
  }

  certificate(): CertificateMaterial | null {
    const caPem = this.c.book.ca
    return this.node && caPem ? { certPem: this.node.certPem, keyPem: this.node.keyPem, caPem } : null
  }

  tick(): void {
    if (!this.node) {
      // Also the period that saves again a join certificate a full disk refused (join-save.ts).
      this.joiner.feed({ kind: 'retry', conns: this.c.peers.connections(), monoMs: this.c.clock.monoMs() })
      return
    }
    if (this.ca) this.signer.feed({ kind: 'tick' })
    this.identity.feed({ kind: 'tick', signer: this.ca !== null })
    const members = new Set(
      this.c.peers
        .members()
        .map((m) => m.signed.body.id)
        .filter((id) => this.c.book.isMember(id)),
    )
    this.approvals.feed({ kind: 'tick', members })
    this.digestToOne()
  }

  /** What this node holds of the CA-signed documents (anti-entropy.ts). */
  docs(): TrustDocs {
    return {
      revocations: this.revocations.state.list,
      revocationsRaced: this.revocations.state.raced,
      settings: this.settings.state.signed,
      approvals: this.approvals.state.approvals,
    }
  }

  /** Anti-entropy: each period one member we are connected to, picked at random, gets our digest. */
  private digestToOne(): void {
    const { book, peers, random, router } = this.c
    const conns = peers
      .connections()
      .filter((conn) => book.isMember(nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))))
    const conn = conns[Math.floor(random.next() * conns.length)]
    if (conn) router.send(conn, digestOf(this.docs(), true))
  }

  stop(): void {
    this.stopped = true
    this.own.stop()
  }

  // ---- joiner ----

  private onJoiner(f: Exclude<JoinerEffect, CommonEffect>): void {
    applyJoinerEffect(this.joinHost, f)
  }

  private get joinHost(): JoinHost {
    return {
      init: this.init,
      c: this.c,
      joiner: this.joiner,
      joinCsr: this.joinCsr,
      member: () => this.node !== null,
      stopped: () => this.stopped,
      saveInLane: (write) => void this.saves.save('certificate', write),
      adoptSaved: (certPem, keyPem, cluster) => {
        if (this.adopt(certPem, keyPem, false, true))
          this.settings.feed({ kind: 'joined', settings: cluster })
      },
      connectionsTo: (conn) => this.connectionsTo(conn),
    }
  }

  /** Every open connection to the peer of `conn` (itself first, in case the transport lost track of it). */
  private connectionsTo(conn: PeerConn): PeerConn[] {
    const others = this.c.peers
      .connections()
      .filter((c) => c.remoteKeyHex === conn.remoteKeyHex && c !== conn)
    return [conn, ...others]
  }

  /**
   * Our certificate (first or renewed): verify it into the book, keep it, tell everyone.
   * A first one arrives `saved` (saveJoinCert); a renewal is saved here, in the background:
   * the node is a member already, with its older certificate on disk.
   */
  adopt(certPem: string, keyPem: string, renewing: boolean, saved = false): boolean {
    const added = this.c.book.add(this.c.identity.id, certPem)
    if (!added.ok) {
      this.c.log.warn(
        { reason: added.reason, detail: added.detail },
        'the signed certificate does not verify',
      )
      return false
    }
    const caPem = this.c.book.ca as string
    this.node = { certPem, keyPem }
    if (!saved) this.save('certificate', () => this.c.store.saveCertificate({ certPem, keyPem, caPem }))
    for (const fn of this.certificateListeners) fn({ certPem, keyPem, caPem })
    const what = renewing ? 'renewed its certificate' : 'joined: certificate received'
    const info = added.info
    this.c.log.info({ serial: info.serial, notAfter: new Date(info.notAfterMs).toISOString() }, what)
    const name = this.init.nodeName
    this.c.events.add({
      atMs: this.c.clock.nowMs(),
      kind: renewing ? 'renewed' : 'certified',
      id: this.c.identity.id,
      name,
      message: `${name} ${what}`,
    })
    this.c.router.broadcast({ t: 'hello', cert: certPem, ask: !renewing })
    // What went round while we were joining was dropped here (no CA to check it with):
    // ask every peer for what we lack now, right after the hello that makes us a member to it.
    if (!renewing) this.c.router.broadcast(digestOf(this.docs(), true))
    this.identity.feed({ kind: 'adopted', cert: validity(certPem) })
    return true
  }

  // ---- signer ----

  private onSigner(f: Exclude<SignerEffect, CommonEffect>): void {
    switch (f.kind) {
      case 'issue':
        this.issue(f.conn, f.request)
        return
      case 'reply-join-signed':
        this.replyJoinSigned(f.conn, f.nodeId, f.certPem)
        return
      case 'remember-cert':
        this.c.book.add(f.nodeId, f.certPem)
        return
      case 'reach-signers':
        for (const v of this.c.peers.aliveVoters()) this.c.hold(v.signed.body.id, f.forMs)
        return
      default:
        return
    }
  }

  /**
   * A join answered (a certificate just issued, or one held: any member may hand it back)
   * on every connection to the joiner, as it asks (above). False without secret or CA.
   */
  replyJoinSigned(conn: PeerConn, nodeId: string, certPem: string): boolean {
    const caPem = this.c.book.ca
    if (!caPem || !this.init.secret) return false
    const cluster = clusterSettings(this.settings.state.cluster)
    for (const to of this.connectionsTo(conn)) {
      const proof = replyProof(this.init.secret, to.handshakeHash, nodeId, certPem, caPem)
      this.c.router.send(to, { t: 'join-signed', cert: certPem, ca: caPem, cluster, proof })
    }
    return true
  }

  private issue(conn: PeerConn, request: IssueRequest): void {
    const ca = this.ca
    if (!ca) return
    // A netbooted machine's former member (dead, state in RAM) no longer holds its name or address.
    const others = this.c.peers
      .members()
      .filter((m) => m.signed.body.id !== request.nodeId && holdsItsNames(m))
    const record = this.c.peers.byId(request.nodeId)?.signed.body
    // A Kubernetes serving certificate names exactly the addresses of the requester's signed record.
    const addresses =
      request.purpose === 'join' || request.purpose === 'renew'
        ? conn.remoteHost
          ? [conn.remoteHost]
          : []
        : (record?.addresses ?? [])
    const out = issueFor(request, {
      ca,
      clock: this.c.clock,
      validityMs: this.settings.state.cluster.certValidityMs,
      reservedNames: others.flatMap((m) => [
        m.signed.body.id,
        m.signed.body.name,
        ...m.signed.body.addresses,
      ]),
      addresses,
    })
    if (out.ok) this.signer.feed({ kind: 'issued', conn, request, certPem: out.certPem, serial: out.serial })
    else this.signer.feed({ kind: 'issue-failed', conn, request, message: out.message })
  }

  // ---- gossip: revocations, settings, approvals ----

  private onRevocations(f: Exclude<RevocationsEffect, CommonEffect>): void {
    switch (f.kind) {
      case 'apply': {
        const newly = this.c.book.adoptRevocations(f.list)
        if (newly.length === 0) return
        this.c.log.warn({ nodes: newly, version: f.list.version }, 'nodes revoked')
        this.c.onRevoked(newly)
        return
      }
      case 'save':
        this.save('revocations', () => this.c.store.saveRevocations(f.list, f.raced))
        return
      case 'sign':
        if (this.ca) this.revocations.feed({ kind: 'issued', list: signRevocations(f.body, this.ca.keyPem) })
        return
      default:
        return
    }
  }

  private onSettings(f: Exclude<SettingsEffect, CommonEffect>): void {
    if (f.kind === 'save') this.save('settings', () => this.c.store.saveSettings(f.cluster, f.signed))
    else if (f.kind === 'sign' && this.ca)
      this.settings.feed({ kind: 'issued', signed: signSettings(f.version, f.settings, this.ca.keyPem) })
  }

  private onApprovals(f: Exclude<ApprovalsEffect, CommonEffect>): void {
    if (f.kind === 'save') this.save('approvals', () => this.c.store.saveApprovals(f.approvals))
  }

  approveLocally(entry: PendingEntry, ca: CaMaterial): void {
    const body = {
      clusterId: this.init.cluster.id,
      nodeId: entry.id,
      name: entry.name,
      approvedAtMs: this.c.clock.nowMs(),
    }
    this.approvals.feed({ kind: 'approval', approval: signApproval(body, ca.keyPem) })
  }

  /**
   * State on disk must not fail silently: a failed save is logged and counted, the state
   * in memory goes on. Saves of one file run in the order asked (SaveLanes).
   */
  private save(what: string, write: () => Promise<void>): void {
    void this.saves.save(what, write)
  }
}

function validity(certPem: string): { notBeforeMs: number; notAfterMs: number; serial: string } {
  const info = readCertificate(certPem)
  return { notBeforeMs: info.notBeforeMs, notAfterMs: info.notAfterMs, serial: info.serial }
}
