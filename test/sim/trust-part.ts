import type { Random } from '../../agent/core/random.js'
import type { LivenessMessage } from '../../agent/mesh/liveness.js'
import type { PeerConn } from '../../agent/mesh/swarm.js'
import type { RevocationBody, RevocationList } from '../../agent/pki/revocations.js'
import type { ClusterSettings } from '../../agent/state/cluster-file.js'
import { answerDigest, digestOf, type TrustDocs } from '../../agent/trust/anti-entropy.js'
import { decideJoinAtMember } from '../../agent/trust/decide-join.js'
import type { CommonEffect } from '../../agent/trust/effects.js'
import {
  JOIN_ASK_TIMEOUT_MS,
  type JoinerEffect,
  type JoinerState,
  joinerStart,
  joinerStep,
  NOT_A_SIGNER,
  signerHints,
} from '../../agent/trust/joiner.js'
import {
  type RevocationsEffect,
  type RevocationsEvent,
  type RevocationsState,
  revocationEntry,
  revocationsStart,
  revocationsStep,
} from '../../agent/trust/revocations.js'
import {
  type IssueRequest,
  type SignerEffect,
  type SignerEvent,
  type SignerState,
  signerStart,
  signerStep,
} from '../../agent/trust/signer.js'
import type { TrustDigest, TrustMessage } from '../../agent/trust/wire.js'
import type { ControlMessage, NodeExtension, SimRecord, SwimNode } from './swim-node.js'
import { certOf, type SimCert, SimCertBook } from './trust-book.js'

// One simulated agent's trust protocols, driven by the production state machines
// (joiner, signer, revocations) and the production anti-entropy (digestOf, answerDigest).
// Only the adapters differ: certificates and signatures are stand-ins (no RSA: it would
// cost tens of ms per signature), the book is SimCertBook, messages ride the simulated
// links, and what the agent's cert exchange (cert-exchange.ts, a class with I/O) and its
// mesh gate (swim-shell.ts) do is modelled here in a few lines.

/** The trust period (trust.ts runs its tick through the controller at about this pace). */
export const TRUST_TICK_MS = 2000
/** A member that sees a record it cannot admit asks that sender for certificates at most this often. */
const ASK_INTERVAL_MS = 2000
/** A joiner's certificate takes up to this long to reach its disk (written, fsynced). */
const SAVE_MS_MAX = 3000

/** What the simulated cluster provides and records (trust-run.ts checks the invariants on it). */
export interface TrustEnv {
  clusterId: string
  /** A signer signs: the cluster records it and hands back a serial. */
  issue(signer: string, request: IssueRequest): string
  /** Sign a revocation list (deterministic, as RSA PKCS#1 v1.5 is). */
  signList(body: RevocationBody): RevocationList
  /** Does this node's record say etcd voter (it holds the CA key)? */
  isSigner(nodeId: string): boolean
  /** A joiner asked this peer to sign it. */
  asked?(joiner: string, peer: string, generation: number): void
  /** A link opened (a question asked on an earlier link to that peer went with it). */
  linked?(nodeId: string, peer: string): void
  /** A member without the CA key answered a joiner with the certificate it held. */
  answeredByMember?(joiner: string): void
  /** A node adopted its certificate. */
  adopted(nodeId: string, cert: SimCert): void
  /** A node cut these nodes out (revoked): its links and membership. */
  expelled(nodeId: string, ids: string[]): void
  random: Random
}

/** What survives a restart (the agent keeps it in its state directory). */
interface Persisted {
  cert: string | null
  list: RevocationList | undefined
  /** Raced lists saved beside it (trust-store.ts saveRevocations). */
  raced: readonly RevocationList[]
  /** Holds the CA key: signs joins and revocations. */
  signer: boolean
}

type Wire =
  | TrustMessage
  | { t: 'sim-join-request'; csr: string }
  | { t: 'sim-join-signed'; cert: string }
  | { t: 'sim-hello'; cert: string; ask: boolean }
  | { t: 'sim-certs'; certs: string[] }
type Msg = ControlMessage & { t: 'ctl-trust'; m: Wire }

export class TrustPart implements NodeExtension {
  private readonly persisted: Persisted
  private node: SwimNode | null = null
  book = new SimCertBook()
  private joiner: JoinerState | null = null
  private signer: SignerState = signerStart()
  revocations: RevocationsState
  private readonly lastAsk = new Map<string, number>()
  private generation = 0

  constructor(
    readonly nodeId: string,
    readonly name: string,
    private readonly env: TrustEnv,
    init: { cert: string | null; signer: boolean },
  ) {
    this.persisted = { cert: init.cert, list: undefined, raced: [], signer: init.signer }
    this.revocations = revocationsStart(env.clusterId, undefined)
  }

  get cert(): string | null {
    return this.persisted.cert
  }

  get isSigner(): boolean {
    return this.persisted.signer
  }

  get up(): boolean {
    return this.node?.isUp() ?? false
  }

  started(node: SwimNode): void {
    this.node = node
    const gen = ++this.generation
    this.book = new SimCertBook()
    if (this.persisted.cert) this.book.add(this.nodeId, this.persisted.cert)
    if (this.persisted.list) this.book.adoptRevocations(this.persisted.list)
    for (const l of this.persisted.raced) this.book.adoptRevocations(l)
    this.joiner = joinerStart('code', this.name, this.persisted.cert !== null)
    this.signer = signerStart()
    this.revocations = revocationsStart(this.env.clusterId, this.persisted.list, this.persisted.raced)
    this.lastAsk.clear()
    const clock = node.proc.clock()
    clock.setInterval(() => {
      if (gen === this.generation) this.tick()
    }, TRUST_TICK_MS)
  }

  crashed(): void {
    this.generation++
    this.node = null
  }

  /** Admin on this node: revoke `nodeId` (as trust.ts revoke: revocationEntry). */
  revoke(nodeId: string, name: string, nowMs: number): void {
    if (!this.persisted.signer || !this.up) return
    this.feedRevocations({
      kind: 'revoke',
      entry: revocationEntry(this.book.get(nodeId)?.serial, nodeId, nowMs, 'sim'),
      name,
    })
  }

  linkOpened(peer: string): void {
    this.env.linked?.(this.nodeId, peer)
    const conn = connTo(peer)
    if (!this.persisted.cert) {
      this.feedJoiner({ kind: 'connected', conn, ...this.open() })
      return
    }
    this.sendCerts(peer, false)
    this.feedRevocations({ kind: 'connected', conn })
    if (this.persisted.signer) this.feedSigner({ kind: 'connected', conn })
  }

  /** swim-shell.ts: a node without a certificate admits no record; a member only members' records. */
  admit(from: string, msg: LivenessMessage<SimRecord>): LivenessMessage<SimRecord> {
    if (!('gossip' in msg)) return msg
    const can = this.persisted.cert !== null
    let refused = false
    const gossip = msg.gossip.filter((u) => {
      if (!('record' in u)) return true
      const ok = can && (u.record.id === this.nodeId || this.book.isMember(u.record.id))
      if (!ok && can && !this.book.isRevoked(u.record.id)) refused = true
      return ok
    })
    if (refused) this.uncertified(from)
    return gossip.length === msg.gossip.length ? msg : ({ ...msg, gossip } as typeof msg)
  }

  /** swim-shell.ts sendTo: a node that cannot admit says only which links it wants. */
  tells(msg: LivenessMessage<SimRecord>): boolean {
    return this.persisted.cert !== null || msg.t === 'link'
  }

  receive(from: string, raw: ControlMessage): void {
    const m = (raw as Msg).m
    const conn = connTo(from)
    switch (m.t) {
      case 'sim-join-request':
        if (this.persisted.signer && this.persisted.cert) this.onJoinRequest(from, m.csr)
        else this.answerAsMember(from)
        return
      case 'sim-join-signed': {
        if (this.persisted.cert) return
        const c = certOf(m.cert)
        this.feedJoiner({
          kind: 'signed',
          conn,
          proofOk: true,
          clusterMatches: true,
          certForUs: c?.nodeId === this.nodeId,
          certPem: m.cert,
          caPem: 'sim-ca',
          cluster: {} as ClusterSettings,
        })
        return
      }
      case 'join-refused':
        this.feedJoiner({
          kind: 'refused',
          conn,
          reason: m.reason,
          message: m.message,
          ...(m.signers ? { signers: m.signers } : {}),
          ...this.open(),
        })
        return
      case 'sim-hello':
        if (this.onCert(from, m.cert) && m.ask && this.persisted.cert) this.sendCerts(from, false)
        return
      case 'sim-certs':
      case 'certs':
        for (const c of m.certs) this.onCert(undefined, c)
        return
      case 'revocations':
        // routes.ts: no CA yet (a joiner) means nothing to check a list with.
        if (!this.persisted.cert) return
        this.feedRevocations({ kind: 'received', list: m.list, signer: this.persisted.signer })
        return
      case 'trust-digest':
        if (!this.persisted.cert || !this.book.isMember(from)) return
        for (const out of answerDigest(this.docs(), m as TrustDigest)) this.send(from, out)
        return
      default:
        return
    }
  }

  private tick(): void {
    if (!this.persisted.cert) {
      this.feedJoiner({ kind: 'retry', ...this.open() })
      return
    }
    if (this.persisted.signer) this.feedSigner({ kind: 'tick' })
    // machines.ts digestToOne: one random member we hold a link to.
    const links = (this.node?.links() ?? []).filter((id) => this.book.isMember(id))
    const to = links[Math.floor(this.env.random.next() * links.length)]
    if (to) this.send(to, digestOf(this.docs(), true))
  }

  docs(): TrustDocs {
    return {
      revocations: this.revocations.list,
      revocationsRaced: this.revocations.raced,
      settings: null,
      approvals: new Map(),
    }
  }

  private onJoinRequest(from: string, csr: string): void {
    // routes.ts: a signer holds the joiner's link until it has been answered.
    this.node?.liveness?.pin(from, 2 * JOIN_ASK_TIMEOUT_MS)
    const held = this.book.get(from)
    this.feedSigner({
      kind: 'join-request',
      conn: connTo(from),
      who: {
        nodeId: from,
        revoked: this.book.isRevoked(from),
        member: this.book.isMember(from),
        heldCertPem: held?.pem,
        recordName: undefined,
        namesTaken: new Set(),
      },
      name: from,
      csrPem: csr,
      proofOk: true,
      // One join key per node here (the CSR names it): a held certificate is for it.
      heldSameKey: held !== undefined,
      code: 'code',
      policy: 'auto',
      approved: false,
    })
  }

  /**
   * routes.ts answerAsMember: a node without the CA key hands back the certificate its
   * book holds for the joiner (issued once, by a signer), else says it is no signer.
   */
  private answerAsMember(from: string): void {
    const held = this.persisted.cert ? this.book.get(from) : undefined
    const d = decideJoinAtMember({
      proofOk: true,
      revoked: this.book.isRevoked(from),
      member: this.book.isMember(from),
      heldSameKey: held !== undefined,
    })
    if (d.kind === 'answer-held' && held) {
      this.env.answeredByMember?.(from)
      this.send(from, { t: 'sim-join-signed', cert: held.pem })
      return
    }
    const signers = d.kind === 'not-a-signer' && d.nameSigners ? this.hints() : []
    this.send(from, { t: 'join-refused', reason: NOT_A_SIGNER, message: 'no CA key', signers })
  }

  /** routes.ts: the voters this node sees alive, as a refusal names them (ids stand for keys here). */
  private hints(): ReturnType<typeof signerHints> {
    if (!this.persisted.cert) return []
    const voters = (this.node?.liveness?.swim.members() ?? [])
      .filter((m) => m.state === 'alive' && this.env.isSigner(m.id))
      .map((m) => ({ publicKey: m.id, addresses: ['sim'], ports: { dht: 1 } }))
    return signerHints(voters)
  }

  private onCert(from: string | undefined, pem: string): boolean {
    const c = certOf(pem)
    if (!c || (from !== undefined && c.nodeId !== from)) return false
    return this.book.add(c.nodeId, pem)
  }

  /** cert-exchange.ts onUncertified: ask the sender again for what it holds, rate-limited. */
  private uncertified(from: string): void {
    const now = this.node?.proc.clock().monoMs() ?? 0
    const last = this.lastAsk.get(from) ?? Number.NEGATIVE_INFINITY
    if (now - last < ASK_INTERVAL_MS || !this.persisted.cert) return
    this.lastAsk.set(from, now)
    this.send(from, { t: 'sim-hello', cert: this.persisted.cert, ask: true })
  }

  private sendCerts(to: string, ask: boolean): void {
    const own = this.persisted.cert
    if (!own) return
    this.send(to, { t: 'sim-hello', cert: own, ask })
    const others = this.book.allPems().filter((p) => p !== own)
    if (others.length > 0) this.send(to, { t: 'sim-certs', certs: others })
  }

  private send(to: string, m: Wire): void {
    this.node?.sendControl(to, { t: 'ctl-trust', m } as Msg)
  }

  private broadcast(m: Wire): void {
    for (const id of this.node?.links() ?? []) this.send(id, m)
  }

  /** driver.ts applyCommon: sends and broadcasts; logs, counters and events are not needed here. */
  private common(f: CommonEffect): void {
    if (f.kind === 'send') this.send(f.conn.remoteKeyHex, f.msg)
    else if (f.kind === 'broadcast') this.broadcast(f.msg)
  }

  private open(): { conns: PeerConn[]; monoMs: number } {
    return { conns: (this.node?.links() ?? []).map(connTo), monoMs: this.node?.proc.clock().monoMs() ?? 0 }
  }

  private feedJoiner(e: Parameters<typeof joinerStep>[1]): void {
    if (!this.joiner) return
    const r = joinerStep(this.joiner, e)
    this.joiner = r.state
    for (const f of r.effects) this.onJoiner(f)
  }

  private onJoiner(f: JoinerEffect): void {
    switch (f.kind) {
      case 'ask': {
        if (this.persisted.cert) return
        this.env.asked?.(this.nodeId, f.conn.remoteKeyHex, this.generation)
        // machines.ts: the link the answer comes on is held meanwhile.
        this.node?.liveness?.pin(f.conn.remoteKeyHex, JOIN_ASK_TIMEOUT_MS)
        this.send(f.conn.remoteKeyHex, { t: 'sim-join-request', csr: `csr:${this.nodeId}` })
        return
      }
      case 'save': {
        // join-shell.ts: checked first, then written; the write takes a while (fsync on a
        // slow disk) and is lost with a crash before it ends.
        if (!certOf(f.certPem)) {
          this.feedJoiner({ kind: 'unusable' })
          return
        }
        const gen = this.generation
        const clock = this.node?.proc.clock()
        clock?.setTimeout(() => {
          if (gen !== this.generation) return
          this.persisted.cert = f.certPem
          this.feedJoiner({ kind: 'saved' })
        }, this.env.random.next() * SAVE_MS_MAX)
        return
      }
      case 'adopt': {
        const c = certOf(f.certPem)
        if (!c || !this.book.add(this.nodeId, f.certPem)) return
        this.env.adopted(this.nodeId, c)
        // machines.ts adopt: hello to every link, then a digest to catch up on what we dropped.
        this.broadcast({ t: 'sim-hello', cert: f.certPem, ask: true })
        this.broadcast(digestOf(this.docs(), true))
        this.node?.liveness?.resync()
        return
      }
      case 'reach':
        // swim-shell.ts reachPeer: the signer's link is pinned (a simulated link needs no address).
        this.node?.liveness?.pin(f.signer.key, f.forMs)
        return
      default:
        this.common(f)
    }
  }

  private feedSigner(e: SignerEvent): void {
    const now = this.node?.proc.clock().nowMs() ?? 0
    const r = signerStep(this.signer, e, now)
    this.signer = r.state
    for (const f of r.effects) this.onSigner(f)
  }

  private onSigner(f: SignerEffect): void {
    switch (f.kind) {
      case 'issue': {
        const serial = this.env.issue(this.nodeId, f.request)
        const certPem = `simcert:${serial}:${f.request.nodeId}`
        this.feedSigner({ kind: 'issued', conn: f.conn, request: f.request, certPem, serial })
        return
      }
      case 'reply-join-signed':
        this.send(f.conn.remoteKeyHex, { t: 'sim-join-signed', cert: f.certPem })
        return
      case 'remember-cert':
        this.book.add(f.nodeId, f.certPem)
        return
      case 'reach-signers':
        // machines.ts: a link to every other signer this node sees alive (the link's
        // certificate exchange, sendCerts here, hands them the new certificate).
        for (const m of this.node?.liveness?.swim.members() ?? [])
          if (m.state === 'alive' && this.env.isSigner(m.id)) this.node?.liveness?.pin(m.id, f.forMs)
        return
      default:
        this.common(f)
    }
  }

  private feedRevocations(e: RevocationsEvent): void {
    const r = revocationsStep(this.revocations, e)
    this.revocations = r.state
    for (const f of r.effects) this.onRevocations(f)
  }

  private onRevocations(f: RevocationsEffect): void {
    switch (f.kind) {
      case 'apply': {
        const newly = this.book.adoptRevocations(f.list)
        // agent.ts onRevoked → mesh.expel → Liveness.expel (production).
        for (const id of newly) if (id !== this.nodeId) this.node?.liveness?.expel(id)
        if (newly.length > 0) this.env.expelled(this.nodeId, newly)
        return
      }
      case 'save':
        this.persisted.list = f.list
        this.persisted.raced = f.raced
        return
      case 'sign':
        if (this.persisted.signer) this.feedRevocations({ kind: 'issued', list: this.env.signList(f.body) })
        return
      default:
        this.common(f)
    }
  }
}

/** The shell's connection handle; the machines only pass it back (its key names the peer). */
function connTo(peer: string): PeerConn {
  return { remoteKeyHex: peer } as unknown as PeerConn
}
