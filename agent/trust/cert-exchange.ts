import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { nodeIdFromPublicKey } from '../identity/identity.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { MeshRouter } from '../mesh/router.js'
import type { PeerConn } from '../mesh/swarm.js'
import { readCertificate } from '../pki/cert.js'
import type { CertBook } from './cert-book.js'
import { Certs, Hello, TRUST_LIMITS } from './wire.js'

const CANDIDATES_MAX = 64
const ASK_INTERVAL_MS = 2000
const DROPPED = 'homecloud_mesh_messages_dropped_total'

/**
 * Membership is certificate-gated, and certificates travel per connection: our own in
 * `hello`, the others we hold in `certs`. A member that sees a record of a node whose
 * certificate it lacks asks the sender again (rate-limited), so a reply lost on a
 * closing connection heals itself. Joiners' own records are remembered (bounded) to
 * show a pending node with its board.
 */
export class CertExchange {
  private readonly candidates = new Map<string, NodeRecordBody>()
  private readonly lastAsk = new Map<string, number>()

  constructor(
    private readonly c: {
      book: CertBook
      router: MeshRouter
      clock: Clock
      log: Logger
      counters: Counters
      /** Our own agent certificate, once we have one. */
      ownCert: () => string | null
    },
  ) {
    c.router.route('hello', Hello, (conn, m) => {
      if (this.onCert(conn, m.cert, true) && m.ask) this.sendCerts(conn)
    })
    c.router.route('certs', Certs, (conn, m) => {
      for (const pem of m.certs) this.onCert(conn, pem, false)
    })
    c.router.onUncertified((conn, body, direct) => this.onUncertified(conn, body, direct))
  }

  candidate(id: string): NodeRecordBody | undefined {
    return this.candidates.get(id)
  }

  /** Our certificate and every member certificate we hold. */
  sendCerts(conn: PeerConn): void {
    const own = this.c.ownCert()
    if (!own) return
    this.c.router.send(conn, { t: 'hello', cert: own, ask: false })
    const others = this.c.book.allPems().filter((p) => p !== own)
    for (let i = 0; i < others.length; i += TRUST_LIMITS.certsPerFrameMax)
      this.c.router.send(conn, { t: 'certs', certs: others.slice(i, i + TRUST_LIMITS.certsPerFrameMax) })
  }

  private onUncertified(conn: PeerConn, body: NodeRecordBody, direct: boolean): void {
    if (direct && (this.candidates.size < CANDIDATES_MAX || this.candidates.has(body.id)))
      this.candidates.set(body.id, body)
    const own = this.c.ownCert()
    if (!own) return
    const now = this.c.clock.monoMs()
    const last = this.lastAsk.get(conn.remoteKeyHex) ?? Number.NEGATIVE_INFINITY
    if (now - last < ASK_INTERVAL_MS) return
    this.lastAsk.set(conn.remoteKeyHex, now)
    if (this.lastAsk.size > CANDIDATES_MAX * 4) this.lastAsk.clear()
    this.c.router.send(conn, { t: 'hello', cert: own, ask: true })
  }

  /** Verify and keep a member certificate; true when it was accepted. */
  private onCert(conn: PeerConn, pem: string, own: boolean): boolean {
    // Without the CA (a joiner not yet signed) no certificate can be checked, and parsing
    // each one its neighbours send (forge, pure JS, ~5 ms apiece) only to refuse it took
    // 12 % of a waiting joiner's time in the 50-agent lab.
    if (!this.c.book.ca) return false
    const sender = () => nodeIdFromPublicKey(Buffer.from(conn.remoteKeyHex, 'hex'))
    // Already verified and held: only the sender check is left (a hello must be the sender's own).
    const heldFor = this.c.book.memberOfPem(pem)
    if (heldFor !== undefined) {
      if (!own || heldFor === sender()) return true
      this.c.counters.inc(DROPPED, { reason: 'impersonation' })
      return false
    }
    let nodeId: string
    try {
      nodeId = readCertificate(pem).commonName
    } catch {
      this.c.counters.inc(DROPPED, { reason: 'bad-certificate' })
      return false
    }
    // A hello is the sender's own certificate: its Noise key must be the node's key.
    if (own && nodeId !== sender()) {
      this.c.counters.inc(DROPPED, { reason: 'impersonation' })
      return false
    }
    const known = this.c.book.isMember(nodeId)
    const r = this.c.book.add(nodeId, pem)
    if (!r.ok) {
      if (r.reason === 'no-ca') return false
      this.c.counters.inc(DROPPED, { reason: r.reason === 'revoked' ? 'revoked' : 'bad-certificate' })
      if (own)
        this.c.log.warn(
          { peer: conn.remoteKeyHex.slice(0, 12), reason: r.reason, detail: r.detail },
          'refused a peer certificate',
        )
      return false
    }
    if (!known) this.c.log.debug({ member: nodeId }, 'member certificate verified')
    return true
  }
}
