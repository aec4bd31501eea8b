import type { z } from 'zod'
import type { Timer } from '../core/clock.js'
import { systemRandom } from '../core/random.js'
import type { HostPort } from './bootstrap.js'
import type { DropReason } from './intake.js'
import type { Member } from './membership.js'
import { DROP_LOG_INTERVAL_MS, DropLog, type MeshComponents, type MeshInit } from './mesh-init.js'
import { type PeerView, peerView } from './peers.js'
import type { SignedRecord } from './record.js'
import { type MeshRouter, MessageRouter } from './router.js'
import type { PeerConn } from './swarm.js'
import { SwimShell } from './swim-shell.js'
import { SWIM_SCHEMAS, type SwimWireMessage } from './swim-wire.js'
import {
  DeadMessage,
  encodeFrame,
  FrameDecoder,
  type MeshMessage,
  RecMessage,
  RelayMessage,
  SuspectMessage,
} from './wire.js'

/** Membership messages only members may send (the rest are how a newcomer becomes one). */
const MEMBERS_ONLY = new Set(['ping', 'ack', 'ping-req', 'nack'])

/**
 * The mesh on one node: frames from hyperswarm decoded and dispatched through the router
 * (each protocol registers its message types), membership by SWIM over a bounded set of
 * links (swim-shell.ts), and the two faces other layers use: the read model of peers
 * (`peers`) and the router. Membership decisions live in swim/ and links/, all pure.
 */
export class Mesh {
  /** Published faces: the read model of peers, and the router protocols register on. */
  readonly peers: PeerView
  readonly router: MeshRouter
  private readonly routes: MessageRouter
  private readonly shell: SwimShell
  private readonly decoders = new WeakMap<PeerConn, FrameDecoder>()
  private readonly dropLog = new DropLog(DROP_LOG_INTERVAL_MS)
  private readonly timers: Timer[] = []

  constructor(
    private readonly init: MeshInit,
    private readonly c: MeshComponents,
  ) {
    this.routes = new MessageRouter(() => c.transport.connections())
    this.router = this.routes
    this.shell = new SwimShell(
      { ...init, bootstrap: init.bootstrap },
      {
        identity: c.identity,
        clock: c.clock,
        random: c.random ?? systemRandom(),
        log: c.log,
        events: c.events,
        counters: c.counters,
        transport: c.transport,
        store: c.store,
        ...(c.gate ? { gate: c.gate } : {}),
        selfRecord: c.selfRecord,
        send: (conn, msg) => conn.write(encodeFrame(msg)),
        uncertified: (conn, body) => this.routes.uncertified(conn, body, false),
        drop: (conn, reason, detail) => this.drop(conn, reason, detail),
      },
    )
    this.peers = peerView(
      c.identity.id,
      () => this.selfSigned().body,
      () => this.shell.members(),
      () => c.transport.connections(),
    )
    for (const [t, schema] of Object.entries(SWIM_SCHEMAS) as [
      SwimWireMessage['t'],
      z.ZodType<SwimWireMessage>,
    ][])
      this.routes.route<SwimWireMessage>(t, schema, (conn, m) => this.shell.receive(conn, m), {
        from: MEMBERS_ONLY.has(t) ? 'members' : 'anyone',
      })
    this.routeLegacy()
  }

  /**
   * The full mesh's messages, still understood (no longer sent): a record is news about
   * its sender, a notice a claim about us from the member that sent it.
   */
  private routeLegacy(): void {
    this.routes.route('rec', RecMessage, (conn, m) => {
      if (m.r.body.publicKey !== conn.remoteKeyHex) {
        this.drop(conn, 'impersonation', `record of ${m.r.body.id} as the sender's own`)
        return
      }
      this.shell.receive(conn, { t: 'gossip', gossip: [{ kind: 'alive', record: m.r }] })
    })
    this.routes.route('relay', RelayMessage, (conn, m) =>
      this.shell.receive(conn, {
        t: 'gossip',
        gossip: m.rs.map((record) => ({ kind: 'alive' as const, record })),
      }),
    )
    const notice = (conn: PeerConn, m: MeshMessage & { t: 'suspect' | 'dead'; incarnation: number }) => {
      const from = this.shell.idOf(conn.remoteKeyHex)
      const claim = { kind: m.t, id: this.c.identity.id, incarnation: m.incarnation, from }
      this.shell.receive(conn, { t: 'gossip', gossip: [claim] })
    }
    // Only a member we know may make us bump: a stranger's notice is ignored.
    this.routes.route('suspect', SuspectMessage, notice, { from: 'members' })
    this.routes.route('dead', DeadMessage, notice, { from: 'members' })
  }

  /** The member list (PeerView.members() is the published way to read it). */
  get table(): { all(): Member[] } {
    return { all: () => this.shell.members() }
  }

  get selfIncarnation(): number {
    return this.shell.selfIncarnation
  }

  get health(): { score: number; lagMs: number } {
    return this.shell.health
  }

  async start(): Promise<void> {
    await this.shell.start()
    const t = this.c.transport
    t.on('peer', (conn: PeerConn) => this.onPeer(conn))
    t.on('data', (conn: PeerConn, chunk: Buffer) => this.onData(conn, chunk))
    t.on('close', (conn: PeerConn) => this.shell.closed(conn))
    this.timers.push(this.c.clock.setInterval(() => void t.refresh(), this.init.announceMs))
  }

  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel()
    await this.shell.stop()
  }

  /** Our own record as it is now. */
  selfSigned(): SignedRecord {
    return this.shell.selfSigned()
  }

  knownPeers(): HostPort[] {
    return this.shell.knownPeers()
  }

  /** The transport is up: plan links (and reach for bootstrap peers) now, not at the next plan. */
  dialKnown(): void {
    this.shell.transportUp()
  }

  /**
   * Hold a link to member `id` for a while although the overlay would not choose it:
   * for a protocol that must reach that member directly (an etcd assignment, a signer).
   */
  reach(id: string, forMs = 30_000): void {
    this.shell.reach(id, forMs)
  }

  /**
   * Hold a link for a while to a peer known only by key and address, not (yet) as a
   * member: a joiner's signer, named by a member that holds no CA key.
   */
  reachPeer(peer: HostPort & { key: string }, forMs: number): void {
    this.shell.reachPeer(peer, forMs)
  }

  /** Revoked nodes: forget them and cut every connection they hold. */
  expel(nodeIds: string[]): void {
    this.shell.expel(nodeIds)
  }

  private onPeer(conn: PeerConn): void {
    this.decoders.set(conn, new FrameDecoder(this.init.frameBytesMax))
    this.routes.connected(conn)
    this.shell.opened(conn)
  }

  private onData(conn: PeerConn, chunk: Buffer): void {
    const decoder = this.decoders.get(conn)
    if (!decoder) throw new Error('assertion failed: data on a connection the mesh never saw open')
    for (const frame of decoder.push(chunk)) {
      if (!frame.ok) {
        this.drop(conn, 'oversized', `declared ${frame.declaredBytes} bytes > ${this.init.frameBytesMax}`)
        conn.destroy()
        return
      }
      const parsed = this.routes.parse(frame.payload)
      if (!parsed.ok) {
        this.drop(conn, 'malformed', parsed.detail)
        continue
      }
      if (parsed.route.from === 'members' && !this.shell.knows(conn.remoteKeyHex)) {
        this.drop(conn, 'not-member', `${parsed.msg.t} message`)
        continue
      }
      parsed.route.handle(conn, parsed.msg)
    }
  }

  /** One counter per reason; one log line per reason at most every few seconds (floods stay cheap). */
  private drop(conn: PeerConn, reason: DropReason, detail: string): void {
    this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason })
    // Duplicates are normal with gossip; joiners send their record before they hold a certificate.
    if (reason === 'stale' || reason === 'uncertified') return
    const suppressed = this.dropLog.due(reason, this.c.clock.monoMs())
    if (suppressed === null) return
    const peer = conn.remoteKeyHex.slice(0, 12)
    this.c.log.warn({ peer, host: conn.remoteHost, reason, detail, suppressed }, 'dropped peer message')
  }
}
