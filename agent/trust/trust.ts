import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import type { Clock, Timer } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import { type Identity, nodeIdFromPublicKey } from '../identity/identity.js'
import type { PeerView } from '../mesh/peers.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { MeshRouter } from '../mesh/router.js'
import type { PeerConn } from '../mesh/swarm.js'
import { encodeFrame } from '../mesh/wire.js'
import type { CaMaterial } from '../pki/ca.js'
import { readCertificate } from '../pki/cert.js'
import { createCsr } from '../pki/csr.js'
import { generateRsaKeyPemAsync } from '../pki/keys.js'
import { PROFILES } from '../pki/profiles.js'
import { needsRenewal } from '../pki/renewal.js'
import {
  nextRevocations,
  type RevocationList,
  signRevocations,
  verifyRevocations,
} from '../pki/revocations.js'
import { issueCertificate, signCertificate } from '../pki/sign.js'
import { type ClusterFile, clusterSettings } from '../state/cluster-file.js'
import type { CertBook } from './cert-book.js'
import { decideJoin } from './decide-join.js'
import { joinProof, proofMatches, replyProof, shortCode } from './join-proof.js'
import { TrustMessage as MeshMessage, TRUST_LIMITS as WIRE_LIMITS } from './messages.js'
import { type NodeProfile, signNodeProfile } from './node-profile.js'
import { type SignedSettings, signSettings, verifySettings } from './signed-settings.js'
import type { TrustStore } from './trust-store.js'

export interface PendingEntry {
  id: string
  name: string
  code: string
  sinceMs: number
}

export interface TrustInit {
  cluster: ClusterFile
  /** The join secret: present on the founder and on nodes given join material. */
  secret: string | null
  /** The CA key pair: only on nodes that may sign. */
  ca: CaMaterial | null
  /** Our certificate and key, once we have them. */
  node: { certPem: string; keyPem: string } | null
  nodeName: string
  host: string
  approvals: string[]
}

export interface TrustComponents {
  identity: Identity
  clock: Clock
  log: Logger
  events: EventLog
  counters: Counters
  book: CertBook
  store: TrustStore
  /** The mesh's faces: members (names, ids and addresses a signer must not hand out twice), connections. */
  peers: PeerView
  router: MeshRouter
  /** These nodes were revoked: cut their connections, forget them. */
  onRevoked: (nodeIds: string[]) => void
}

const RETRY_MS = 2000
const PENDING_FORGET_MS = 5 * 60_000
const CANDIDATES_MAX = 64
const ASK_INTERVAL_MS = 2000
const REFUSAL_CHARS_MAX = 500
/** Certificates this signer issued to joiners, to answer their retries without signing again. */
const SIGNED_REMEMBERED_MAX = 1024

/** A signer renewing itself answers its own request: no connection is involved. */
const SELF_CONN: PeerConn = {
  remoteKeyHex: '',
  handshakeHash: Buffer.alloc(0),
  remoteHost: '',
  write: () => {},
  destroy: () => {},
  stats: () => ({ initiator: false, bytesIn: 0, bytesOut: 0, openMs: 0 }),
}

/**
 * Who is a member: joining with the secret, signing (on nodes holding the CA key),
 * approval, revocation and renewal, all spoken over the mesh's Noise connections.
 * Decisions are pure (decide-join.ts, join-proof.ts, cert-book.ts); this is the shell.
 */
export class Trust {
  private cluster: ClusterFile
  private node: {
    certPem: string
    keyPem: string
    notBeforeMs: number
    notAfterMs: number
    serial: string
  } | null
  private readonly approvals: Set<string>
  /** Signers: joiners waiting for approval. */
  private readonly pending = new Map<string, PendingEntry & { lastMs: number }>()
  private readonly signedFor = new Map<string, { csrPem: string; certPem: string }>()
  /** Everyone: what each signer last said is pending. */
  private readonly pendingBySigner = new Map<string, PendingEntry[]>()
  /** Joiners' own (signed, uncertified) records, so a pending node can be shown with its board. */
  private readonly candidates = new Map<string, NodeRecordBody>()
  private joinState: { status: 'joining' | 'pending' | 'member'; code: string }
  private readonly timers: Timer[] = []
  private readonly lastAsk = new Map<string, number>()
  /** The CA key pair while this node may sign (the founder, and etcd members). */
  private ca: CaMaterial | null

  constructor(
    private readonly init: TrustInit,
    private readonly c: TrustComponents,
  ) {
    this.cluster = init.cluster
    this.ca = init.ca
    this.approvals = new Set(init.approvals)
    this.node = init.node ? { ...init.node, ...validity(init.node.certPem) } : null
    const code = shortCode(c.identity.publicKey.toString('hex'))
    this.joinState = { status: this.node ? 'member' : 'joining', code }
    if (this.node) c.book.add(c.identity.id, this.node.certPem)
    for (const schema of MeshMessage.options)
      c.router.route<MeshMessage>(schema.shape.t.value, schema, (conn, msg) => this.handle(conn, msg))
    c.router.onConnection((conn) => this.onPeer(conn))
    c.router.onUncertified((conn, body, direct) => this.onUncertified(conn, body, direct))
  }

  private readonly certificateListeners: ((cert: {
    certPem: string
    keyPem: string
    caPem: string
  }) => void)[] = []

  /** Our certificate changed (joined or renewed): the TLS server reloads it. */
  onCertificate(fn: (cert: { certPem: string; keyPem: string; caPem: string }) => void): void {
    this.certificateListeners.push(fn)
  }

  private connections(): PeerConn[] {
    return this.c.peers.connections()
  }

  private members(): { id: string; name: string; addresses: string[] }[] {
    return this.c.peers.members().map((m) => ({
      id: m.signed.body.id,
      name: m.signed.body.name,
      addresses: m.signed.body.addresses,
    }))
  }

  get isSigner(): boolean {
    return this.ca !== null
  }

  /** The CA key pair, on signers only (the coordinator issues etcd certificates with it). */
  caMaterial(): CaMaterial | null {
    return this.ca
  }

  /**
   * Control-plane members sign too: the coordinator hands them the CA key, and takes
   * the role back when they leave etcd. The key must belong to our CA certificate; the
   * caller persists it. Returns false (and changes nothing) for a key that does not.
   */
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

  get isMember(): boolean {
    return this.node !== null
  }

  get status(): { status: 'joining' | 'pending' | 'member'; code: string } {
    return this.joinState
  }

  get settings(): ClusterFile {
    return this.cluster
  }

  certificate(): { certPem: string; keyPem: string; caPem: string } | null {
    return this.node && this.c.book.ca
      ? { certPem: this.node.certPem, keyPem: this.node.keyPem, caPem: this.c.book.ca }
      : null
  }

  start(): void {
    if (!this.node) {
      this.c.log.info(
        { code: this.joinState.code },
        `joining cluster ${this.cluster.name}: this node's code is ${this.joinState.code}`,
      )
    }
    this.timers.push(this.c.clock.setInterval(() => this.onTimer(), RETRY_MS))
  }

  stop(): void {
    for (const t of this.timers) t.cancel()
  }

  /**
   * A record from a node whose certificate we do not hold. Its own record is
   * remembered (bounded) to describe it while pending. If we are a member, we ask the
   * sender for certificates (rate-limited): a reply lost on a connection that was
   * closing is then simply asked for again, so certificate exchange heals itself.
   */
  private onUncertified(conn: PeerConn, body: NodeRecordBody, direct: boolean): void {
    if (direct && (this.candidates.size < CANDIDATES_MAX || this.candidates.has(body.id)))
      this.candidates.set(body.id, body)
    if (!this.node) return
    const now = this.c.clock.monoMs()
    const last = this.lastAsk.get(conn.remoteKeyHex) ?? Number.NEGATIVE_INFINITY
    if (now - last < ASK_INTERVAL_MS) return
    this.lastAsk.set(conn.remoteKeyHex, now)
    if (this.lastAsk.size > CANDIDATES_MAX * 4) this.lastAsk.clear()
    conn.write(encodeFrame({ t: 'hello', cert: this.node.certPem, ask: true }))
  }

  candidate(id: string): NodeRecordBody | undefined {
    return this.candidates.get(id)
  }

  pendingEntries(): PendingEntry[] {
    const all = new Map<string, PendingEntry>()
    for (const list of this.pendingBySigner.values()) for (const e of list) all.set(e.id, e)
    for (const e of this.pending.values())
      all.set(e.id, { id: e.id, name: e.name, code: e.code, sinceMs: e.sinceMs })
    for (const id of all.keys()) if (this.c.book.isMember(id)) all.delete(id)
    return [...all.values()]
  }

  /** Our certificate and every member certificate we hold. */
  private sendCerts(conn: PeerConn): void {
    if (!this.node) return
    conn.write(encodeFrame({ t: 'hello', cert: this.node.certPem, ask: false }))
    const others = this.c.book.allPems().filter((p) => p !== this.node?.certPem)
    for (let i = 0; i < others.length; i += WIRE_LIMITS.certsPerFrameMax) {
      conn.write(encodeFrame({ t: 'certs', certs: others.slice(i, i + WIRE_LIMITS.certsPerFrameMax) }))
    }
  }

  /** A new connection: show our certificate and what a newcomer must know. */
  private onPeer(conn: PeerConn): void {
    if (this.node) {
      this.sendCerts(conn)
      const rl = this.c.book.revocationList
      if (rl) conn.write(encodeFrame({ t: 'revocations', list: rl }))
      if (this.signedSettings) conn.write(encodeFrame({ t: 'settings', signed: this.signedSettings }))
      if (this.isSigner && this.pending.size > 0) conn.write(encodeFrame(this.pendingMessage()))
    } else {
      this.sendJoin(conn)
    }
  }

  private handle(conn: PeerConn, msg: MeshMessage): void {
    switch (msg.t) {
      case 'hello':
        if (this.onCert(conn, msg.cert, true) && msg.ask) this.sendCerts(conn)
        return
      case 'certs':
        for (const pem of msg.certs) this.onCert(conn, pem, false)
        return
      case 'join':
        this.onJoinRequest(conn, msg)
        return
      case 'join-signed':
        if (msg.profile) this.onNodeProfileSigned(msg.profile, msg.cert, msg.ca)
        else this.onSigned(conn, msg)
        return
      case 'join-pending':
        if (this.joinState.status === 'joining') {
          this.joinState = { status: 'pending', code: this.joinState.code }
          this.c.log.info(
            { code: msg.code },
            `waiting for approval: run \`homecloud approve ${this.init.nodeName}\` (code ${msg.code})`,
          )
        }
        return
      case 'join-refused':
        if (msg.profile) {
          this.nodeProfileRefused(msg.profile, msg.reason, msg.message)
          return
        }
        this.c.counters.inc('homecloud_join_refused_total', { reason: msg.reason })
        this.c.log.warn(
          { from: conn.remoteKeyHex.slice(0, 12), reason: msg.reason },
          `join refused: ${msg.message}`,
        )
        return
      case 'join-not-signer':
        return
      case 'revocations':
        this.onRevocations(conn, msg.list)
        return
      case 'settings': {
        const ca = this.c.book.ca
        if (!ca || !verifySettings(msg.signed, ca, this.cluster.id)) {
          this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason: 'bad-settings' })
          return
        }
        this.adoptSettings(msg.signed)
        return
      }
      case 'pending': {
        const from = nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))
        if (!this.c.book.isMember(from)) return
        this.pendingBySigner.set(from, msg.entries.slice(0, WIRE_LIMITS.pendingEntriesMax))
        return
      }
      default:
        return
    }
  }

  /** Verify and keep a member certificate; true when it was accepted. */
  private onCert(conn: PeerConn, pem: string, own: boolean): boolean {
    // Already verified and held: only the sender check is left (a hello must be the sender's own).
    const heldFor = this.c.book.memberOfPem(pem)
    if (heldFor !== undefined) {
      if (!own || heldFor === nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))) return true
      this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason: 'impersonation' })
      return false
    }
    let nodeId: string
    try {
      nodeId = readCertificate(pem).commonName
    } catch {
      this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason: 'bad-certificate' })
      return false
    }
    // A hello is the sender's own certificate: its Noise key must be the node's key.
    if (own && nodeId !== nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))) {
      this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason: 'impersonation' })
      return false
    }
    const known = this.c.book.isMember(nodeId)
    const r = this.c.book.add(nodeId, pem)
    if (!r.ok) {
      if (r.reason !== 'no-ca') {
        this.c.counters.inc('homecloud_mesh_messages_dropped_total', {
          reason: r.reason === 'revoked' ? 'revoked' : 'bad-certificate',
        })
        if (own)
          this.c.log.warn(
            { peer: conn.remoteKeyHex.slice(0, 12), reason: r.reason, detail: r.detail },
            'refused a peer certificate',
          )
      }
      return false
    }
    if (!known) this.c.log.debug({ member: nodeId }, 'member certificate verified')
    return true
  }

  // ---- joining (the node without a certificate) ----

  private sendJoin(conn: PeerConn): void {
    if (this.node || !this.init.secret || !this.joinKey) return
    const csr = this.joinCsr()
    conn.write(
      encodeFrame({
        t: 'join',
        mode: 'join',
        name: this.init.nodeName,
        csr: csr.csrPem,
        proof: joinProof(this.init.secret, conn.handshakeHash, this.c.identity.id, csr.csrPem),
      }),
    )
  }

  private joinKey: string | null = null
  private joinCsrCache: { csrPem: string; keyPem: string } | null = null

  /** One key and CSR per join attempt, reused across connections and retries. */
  private joinCsr(): { csrPem: string; keyPem: string } {
    this.joinCsrCache ??= createCsr({ commonName: this.c.identity.id, keyPem: this.joinKey ?? undefined })
    return this.joinCsrCache
  }

  /** Called once before start when this node has join material but no certificate. */
  prepareJoin(keyPem: string): void {
    this.joinKey = keyPem
  }

  private onSigned(conn: PeerConn, msg: Extract<MeshMessage, { t: 'join-signed' }>): void {
    const renewing = this.node !== null
    const expected = renewing ? this.renewCsr : this.joinCsrCache
    if (!expected) return
    if (!renewing) {
      // The reply must prove the join secret too: only the cluster can hand us a CA.
      const ok =
        this.init.secret !== null &&
        msg.proof !== undefined &&
        proofMatches(
          replyProof(this.init.secret, conn.handshakeHash, this.c.identity.id, msg.cert, msg.ca),
          msg.proof,
        )
      if (!ok || msg.cluster.id !== this.cluster.id) {
        this.c.log.warn(
          { from: conn.remoteKeyHex.slice(0, 12) },
          'ignored a join reply that does not prove the join secret',
        )
        return
      }
    } else if (msg.ca !== this.c.book.ca) {
      this.c.log.warn('ignored a renewal from another CA')
      return
    }
    let info: ReturnType<typeof readCertificate>
    try {
      info = readCertificate(msg.cert)
    } catch {
      return
    }
    if (info.commonName !== this.c.identity.id || info.profile !== 'agent') return
    if (!renewing) this.c.book.setCa(msg.ca)
    const added = this.c.book.add(this.c.identity.id, msg.cert)
    if (!added.ok) {
      this.c.log.warn(
        { reason: added.reason, detail: added.detail },
        'the signed certificate does not verify',
      )
      return
    }
    this.node = { certPem: msg.cert, keyPem: expected.keyPem, ...validity(msg.cert) }
    this.cluster = { ...this.cluster, ...msg.cluster, v: 1 }
    this.renewCsr = null
    this.joinState = { status: 'member', code: this.joinState.code }
    void this.c.store
      .saveMembership({ certPem: msg.cert, keyPem: expected.keyPem, caPem: msg.ca, cluster: this.cluster })
      .catch((err) => this.c.log.error({ err: (err as Error).message }, 'could not save the certificate'))
    for (const fn of this.certificateListeners)
      fn({ certPem: msg.cert, keyPem: expected.keyPem, caPem: msg.ca })
    const what = renewing ? 'renewed its certificate' : 'joined: certificate received'
    this.c.log.info({ serial: info.serial, notAfter: new Date(info.notAfterMs).toISOString() }, what)
    this.c.events.add({
      atMs: this.c.clock.nowMs(),
      kind: renewing ? 'renewed' : 'certified',
      id: this.c.identity.id,
      name: this.init.nodeName,
      message: `${this.init.nodeName} ${what}`,
    })
    for (const cn of this.connections()) cn.write(encodeFrame({ t: 'hello', cert: msg.cert, ask: !renewing }))
  }

  // ---- signing (nodes holding the CA key) ----

  private onJoinRequest(conn: PeerConn, msg: Extract<MeshMessage, { t: 'join' }>): void {
    if (!this.ca) {
      conn.write(encodeFrame({ t: 'join-not-signer' }))
      return
    }
    const nodeId = nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))
    if (msg.profile) {
      this.onNodeProfileRequest(conn, msg, msg.profile, nodeId)
      return
    }
    const proofOk =
      msg.mode === 'join' &&
      this.init.secret !== null &&
      msg.proof !== undefined &&
      proofMatches(joinProof(this.init.secret, conn.handshakeHash, nodeId, msg.csr), msg.proof)
    // A joiner asks on every connection every few seconds until a reply arrives; signing
    // anew each time (pure-JS signing, tens of ms) let a burst of joiners outrun the
    // signer for good. The same proven request gets the same certificate while it is valid.
    const again = this.signedFor.get(nodeId)
    if (
      proofOk &&
      again?.csrPem === msg.csr &&
      this.c.book.get(nodeId)?.certPem === again.certPem &&
      this.c.book.isMember(nodeId)
    ) {
      this.c.counters.inc('homecloud_joins_answered_again_total')
      this.replySigned(conn, nodeId, msg.mode, again.certPem)
      return
    }
    const decision = decideJoin({
      policy: this.cluster.joinPolicy,
      proofOk,
      idMatchesConnection: true,
      revoked: this.c.book.isRevoked(nodeId),
      approved: this.approvals.has(nodeId),
      renewalOf: msg.mode === 'renew' && this.c.book.isMember(nodeId) ? 'valid-cert' : 'none',
    })
    const refuse = (reason: string, text: string) => {
      // The wire bounds the message; a long CSR name quoted in it must not make it unreadable.
      const message = text.length > REFUSAL_CHARS_MAX ? `${text.slice(0, REFUSAL_CHARS_MAX - 1)}…` : text
      this.c.counters.inc('homecloud_joins_refused_total', { reason })
      this.c.log.warn(
        { peer: conn.remoteKeyHex.slice(0, 12), node: nodeId, reason },
        `refused a ${msg.mode}: ${message}`,
      )
      conn.write(encodeFrame({ t: 'join-refused', reason, message }))
    }
    if (decision.kind === 'refuse') {
      const text = {
        'bad-proof': 'the join secret proof does not verify for this connection',
        'id-mismatch': 'the node id does not match the connection key',
        revoked: 'this node has been revoked',
        'no-valid-cert': 'renewal needs a valid certificate',
      }[decision.reason]
      refuse(decision.reason, text)
      return
    }
    const code = shortCode(conn.remoteKeyHex)
    if (decision.kind === 'pending') {
      const now = this.c.clock.nowMs()
      const had = this.pending.get(nodeId)
      this.pending.set(nodeId, {
        id: nodeId,
        name: msg.name,
        code,
        sinceMs: had?.sinceMs ?? now,
        lastMs: now,
      })
      if (!had) {
        this.c.log.info(
          { node: nodeId, name: msg.name, code },
          `${msg.name} asks to join: approve with \`homecloud approve ${msg.name}\``,
        )
        this.c.events.add({
          atMs: now,
          kind: 'pending',
          id: nodeId,
          name: msg.name,
          message: `${msg.name} waits for approval (code ${code})`,
        })
        this.broadcastPending()
      }
      conn.write(encodeFrame({ t: 'join-pending', code }))
      return
    }
    // Names, ids and addresses of every other member are theirs alone: a joiner (or a
    // renewal) may not take them, or its certificate would pass for theirs.
    const others = this.members().filter((m) => m.id !== nodeId)
    if (others.some((m) => m.name === msg.name)) {
      refuse('name-taken', `the name ${msg.name} belongs to another member`)
      return
    }
    let cert: { certPem: string; serial: string }
    try {
      cert = signCertificate({
        profile: 'agent',
        identity: { nodeId, nodeName: msg.name, ips: conn.remoteHost ? [conn.remoteHost] : [] },
        reservedNames: others.flatMap((m) => [m.id, m.name, ...m.addresses]),
        csrPem: msg.csr,
        ca: this.ca,
        clock: this.c.clock,
        validityMs: this.cluster.certValidityMs,
      })
    } catch (err) {
      const code = err instanceof HomecloudError ? `${err.code}: ` : ''
      refuse('bad-csr', `certificate request refused: ${code}${(err as Error).message}`)
      return
    }
    this.c.book.add(nodeId, cert.certPem)
    if (msg.mode === 'join') {
      if (this.signedFor.size >= SIGNED_REMEMBERED_MAX) this.signedFor.clear()
      this.signedFor.set(nodeId, { csrPem: msg.csr, certPem: cert.certPem })
    }
    this.pending.delete(nodeId)
    this.approvals.delete(nodeId)
    void this.c.store.saveApprovals([...this.approvals]).catch(() => {})
    this.broadcastPending()
    this.c.counters.inc('homecloud_certificates_signed_total', { mode: msg.mode })
    if (msg.mode === 'join') {
      this.c.counters.inc('homecloud_joins_total')
      this.c.events.add({
        atMs: this.c.clock.nowMs(),
        kind: 'admitted',
        id: nodeId,
        name: msg.name,
        message: `${msg.name} admitted: certificate signed`,
      })
    }
    this.c.log.info(
      { node: nodeId, name: msg.name, serial: cert.serial, mode: msg.mode },
      'signed a node certificate',
    )
    this.replySigned(conn, nodeId, msg.mode, cert.certPem)
  }

  /** The certificate, the CA and the settings, proven with the join secret for this connection. */
  private replySigned(conn: PeerConn, nodeId: string, mode: 'join' | 'renew', certPem: string): void {
    if (!this.ca) return
    const caPem = this.ca.certPem
    const proof =
      mode === 'join' && this.init.secret
        ? replyProof(this.init.secret, conn.handshakeHash, nodeId, certPem, caPem)
        : undefined
    conn.write(
      encodeFrame({
        t: 'join-signed',
        cert: certPem,
        ca: caPem,
        cluster: clusterSettings(this.cluster),
        proof,
      }),
    )
  }

  // ---- Kubernetes node identities (kubelet, kwok): asked for by members, signed by signers ----

  private readonly nodeProfileWaits = new Map<
    NodeProfile,
    {
      csrPem: string
      keyPem: string
      resolve(p: { certPem: string; keyPem: string }): void
      reject(e: Error): void
    }
  >()

  private onNodeProfileRequest(
    conn: PeerConn,
    msg: Extract<MeshMessage, { t: 'join' }>,
    profile: NodeProfile,
    nodeId: string,
  ): void {
    const ca = this.ca
    if (!ca) return
    const members = this.members()
    const others = members.filter((m) => m.id !== nodeId)
    const result =
      msg.mode !== 'renew'
        ? ({
            ok: false,
            reason: 'not-member',
            message: 'node certificates are asked for by members (renew)',
          } as const)
        : signNodeProfile({
            profile,
            requester: {
              id: nodeId,
              name: members.find((m) => m.id === nodeId)?.name,
              member: this.c.book.isMember(nodeId),
              revoked: this.c.book.isRevoked(nodeId),
            },
            requesterAddresses: members.find((m) => m.id === nodeId)?.addresses ?? [],
            askedName: msg.name,
            csrPem: msg.csr,
            reservedNames: others.flatMap((m) => [m.id, m.name, ...m.addresses]),
            ca,
            clock: this.c.clock,
            validityMs: this.cluster.certValidityMs,
          })
    if (!result.ok) {
      const message =
        result.message.length > REFUSAL_CHARS_MAX
          ? `${result.message.slice(0, REFUSAL_CHARS_MAX - 1)}…`
          : result.message
      this.c.counters.inc('homecloud_node_certificates_refused_total', { profile, reason: result.reason })
      this.c.log.warn(
        { node: nodeId, profile, reason: result.reason },
        `refused a ${profile} certificate: ${message}`,
      )
      conn.write(encodeFrame({ t: 'join-refused', reason: result.reason, message, profile }))
      return
    }
    this.c.counters.inc('homecloud_certificates_signed_total', { mode: profile })
    this.c.log.info(
      { node: nodeId, name: msg.name, profile, serial: result.serial },
      `signed a ${profile} certificate`,
    )
    conn.write(
      encodeFrame({
        t: 'join-signed',
        cert: result.certPem,
        ca: ca.certPem,
        cluster: clusterSettings(this.cluster),
        profile,
      }),
    )
  }

  /**
   * This node's Kubernetes identity for `profile`: issued here when this node holds the CA
   * key, otherwise asked of every connected peer (signers answer) until one signs or refuses.
   */
  async requestNodeCertificate(
    profile: NodeProfile,
    timeoutMs = 15_000,
  ): Promise<{ certPem: string; keyPem: string }> {
    const keyPem = await generateRsaKeyPemAsync()
    const ca = this.ca
    if (ca) {
      const issued = issueCertificate({
        profile,
        identity: { nodeId: this.c.identity.id, nodeName: this.init.nodeName, ips: [this.init.host] },
        ca,
        keyPem,
        clock: this.c.clock,
        validityMs: this.cluster.certValidityMs,
      })
      return { certPem: issued.certPem, keyPem }
    }
    if (!this.node)
      throw new HomecloudError(
        'KUBE_CERT_REFUSED',
        'this node has no certificate yet',
        'wait until it has joined',
      )
    const spec = PROFILES[profile]
    const csr = createCsr({
      commonName: spec.commonName({ nodeName: this.init.nodeName })!,
      organizations: spec.organizations,
      keyPem,
    })
    this.nodeProfileWaits.get(profile)?.reject(new Error('superseded'))
    return new Promise((resolve, reject) => {
      const timer = this.c.clock.setTimeout(() => {
        this.nodeProfileWaits.delete(profile)
        reject(
          new HomecloudError(
            'KUBE_CERT_REFUSED',
            `no signer answered a ${profile} certificate request`,
            'is a control-plane board up? `homecloud status`',
          ),
        )
      }, timeoutMs)
      this.nodeProfileWaits.set(profile, {
        ...csr,
        resolve: (p) => {
          timer.cancel()
          resolve(p)
        },
        reject: (e) => {
          timer.cancel()
          reject(e)
        },
      })
      const frame = encodeFrame({
        t: 'join',
        mode: 'renew',
        name: this.init.nodeName,
        csr: csr.csrPem,
        profile,
      })
      for (const conn of this.connections()) conn.write(frame)
    })
  }

  private onNodeProfileSigned(profile: NodeProfile, certPem: string, caPem: string): void {
    const wait = this.nodeProfileWaits.get(profile)
    if (!wait || caPem !== this.c.book.ca) return
    try {
      const cert = new X509Certificate(certPem)
      const ok =
        cert.verify(new X509Certificate(caPem).publicKey) &&
        cert.publicKey.equals(createPublicKey(createPrivateKey(wait.keyPem))) &&
        readCertificate(certPem).commonName === PROFILES[profile].commonName({ nodeName: this.init.nodeName })
      if (!ok) return
    } catch {
      return
    }
    this.nodeProfileWaits.delete(profile)
    wait.resolve({ certPem, keyPem: wait.keyPem })
  }

  private nodeProfileRefused(profile: NodeProfile, reason: string, message: string): void {
    const wait = this.nodeProfileWaits.get(profile)
    // The signer may not know our record yet: only a refusal about the request itself is final.
    if (!wait || reason === 'unknown-node') return
    this.nodeProfileWaits.delete(profile)
    wait.reject(
      new HomecloudError('KUBE_CERT_REFUSED', `${profile} certificate refused (${reason}): ${message}`),
    )
  }

  /** Admin: let a pending node in (by name or id). */
  approve(nameOrId: string): PendingEntry | null {
    // Any signer may approve a node another signer saw first (pending lists are gossiped):
    // the joiner keeps asking every peer, so whichever signer approved it signs it.
    const entry = this.pendingEntries().find((e) => e.id === nameOrId || e.name === nameOrId)
    if (!entry) return null
    this.approvals.add(entry.id)
    void this.c.store.saveApprovals([...this.approvals]).catch(() => {})
    this.c.events.add({
      atMs: this.c.clock.nowMs(),
      kind: 'approved',
      id: entry.id,
      name: entry.name,
      message: `${entry.name} approved`,
    })
    return entry
  }

  /** Admin: refuse a node's certificate everywhere from now on. */
  revoke(nodeId: string, name: string, reason: string): RevocationList {
    if (!this.ca) throw new Error('assertion failed: revoke on a node without the CA key')
    const serial = this.c.book.get(nodeId)?.serial ?? '0'
    const body = nextRevocations(
      this.cluster.id,
      [this.c.book.revocationList],
      [{ serial, nodeId, revokedAtMs: this.c.clock.nowMs(), reason }],
    )
    const list = signRevocations(body, this.ca.keyPem)
    this.adopt(list)
    this.c.events.add({
      atMs: this.c.clock.nowMs(),
      kind: 'revoked',
      id: nodeId,
      name,
      message: `${name} revoked: ${reason}`,
    })
    return list
  }

  setJoinPolicy(policy: ClusterFile['joinPolicy']): void {
    const ca = this.ca
    if (!ca) throw new Error('assertion failed: settings changed on a node without the CA key')
    const version = this.cluster.settingsVersion + 1
    const signed = signSettings(version, { ...clusterSettings(this.cluster), joinPolicy: policy }, ca.keyPem)
    this.adoptSettings(signed)
  }

  /** A verified settings change: keep it if newer, persist it, pass it on. */
  private adoptSettings(signed: SignedSettings): void {
    if (signed.version <= this.cluster.settingsVersion) return
    this.cluster = { ...this.cluster, ...signed.settings, settingsVersion: signed.version }
    this.signedSettings = signed
    void this.c.store.saveCluster(this.cluster).catch(() => {})
    this.c.log.info(
      { version: signed.version, joinPolicy: this.cluster.joinPolicy },
      'cluster settings changed',
    )
    for (const conn of this.connections()) conn.write(encodeFrame({ t: 'settings', signed }))
  }

  private signedSettings: SignedSettings | null = null

  private onRevocations(conn: PeerConn, list: RevocationList): void {
    const ca = this.c.book.ca
    if (!ca) return
    const v = verifyRevocations(list, ca, { clusterId: this.cluster.id })
    if (!v.ok) {
      this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason: 'bad-revocations' })
      this.c.log.warn({ peer: conn.remoteKeyHex.slice(0, 12), reason: v.reason }, 'refused a revocation list')
      return
    }
    this.adopt(list)
  }

  private adopt(list: RevocationList): void {
    const newly = this.c.book.adoptRevocations(list)
    if (this.c.book.revocationList !== list) return
    void this.c.store.saveRevocations(list).catch(() => {})
    // Pass it on: nodes that were offline get it from whoever they meet first.
    for (const conn of this.connections()) conn.write(encodeFrame({ t: 'revocations', list }))
    if (newly.length > 0) {
      this.c.log.warn({ nodes: newly, version: list.version }, 'nodes revoked')
      this.c.onRevoked(newly)
    }
  }

  private pendingMessage(): MeshMessage {
    return {
      t: 'pending',
      entries: [...this.pending.values()]
        .slice(0, WIRE_LIMITS.pendingEntriesMax)
        .map((e) => ({ id: e.id, name: e.name, code: e.code, sinceMs: e.sinceMs })),
    }
  }

  private broadcastPending(): void {
    const frame = encodeFrame(this.pendingMessage())
    for (const conn of this.connections()) conn.write(frame)
  }

  // ---- timers: join retries, renewal, forgetting stale pending entries ----

  private renewCsr: { csrPem: string; keyPem: string } | null = null

  private onTimer(): void {
    const now = this.c.clock.nowMs()
    if (!this.node) {
      for (const conn of this.connections()) this.sendJoin(conn)
      return
    }
    let changed = false
    for (const [id, e] of this.pending) {
      if (now - e.lastMs > PENDING_FORGET_MS) {
        this.pending.delete(id)
        changed = true
      }
    }
    if (changed) this.broadcastPending()
    if (needsRenewal(this.node, now)) this.renew()
  }

  private renew(): void {
    if (this.ca) {
      // A signer renews itself: no one else needs to be asked.
      const issued = issueCertificate({
        profile: 'agent',
        identity: { nodeId: this.c.identity.id, nodeName: this.init.nodeName, ips: [this.init.host] },
        ca: this.ca,
        clock: this.c.clock,
        validityMs: this.cluster.certValidityMs,
      })
      this.renewCsr = { csrPem: '', keyPem: issued.keyPem }
      this.onSigned(SELF_CONN, {
        t: 'join-signed',
        cert: issued.certPem,
        ca: this.ca.certPem,
        cluster: clusterSettings(this.cluster),
      })
      return
    }
    this.renewCsr ??= createCsr({ commonName: this.c.identity.id })
    const csr = this.renewCsr
    // Ask every connected peer; only signers answer with a certificate.
    for (const conn of this.connections()) {
      conn.write(encodeFrame({ t: 'join', mode: 'renew', name: this.init.nodeName, csr: csr.csrPem }))
    }
  }
}

/** Does this private key belong to this CA certificate? */
export function caKeyMatches(caPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(caPem).publicKey.equals(createPublicKey(createPrivateKey(keyPem)))
  } catch {
    return false
  }
}

function validity(certPem: string): { notBeforeMs: number; notAfterMs: number; serial: string } {
  const info = readCertificate(certPem)
  return { notBeforeMs: info.notBeforeMs, notAfterMs: info.notAfterMs, serial: info.serial }
}
