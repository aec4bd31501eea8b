import { EventEmitter } from 'node:events'
import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { type Clock, systemClock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { HostPort } from './bootstrap.js'

const CONNECTION_TIMEOUT_MS = 12_000

export interface SwarmInit {
  /** The node identity seed: the Noise static key is the node's ed25519 key. */
  seed: Buffer
  host: string
  dhtPort: number
  bootstrap: HostPort[]
  topic: Buffer
  /** Return true to refuse a peer by its public key (revoked nodes). */
  firewall?: (remotePublicKey: Buffer) => boolean
  maxPeers?: number
  /** For connection ages; default the system clock. */
  clock?: Clock
}

/**
 * The hyperswarm internals we touch, asserted at run time: feeding it a peer as if a
 * lookup had found it, and its per-peer record, whose topics make it reconnect to a peer
 * after a close (we close links on purpose: membership decides which to hold).
 */
interface SwarmInternals {
  _handlePeer(
    peer: { publicKey: Buffer; relayAddresses: { host: string; port: number }[] },
    topic: Buffer,
  ): void
  peers: Map<string, { topics: Buffer[]; _seenTopics: Set<string>; queued: boolean; _reset(): void }>
}

export interface PeerConn {
  remoteKeyHex: string
  /** For /api/v1/mesh: who dialled, and bytes each way (a stuck link shows as bytes out, none in). */
  stats(): { initiator: boolean; bytesIn: number; bytesOut: number; openMs: number }
  /** Unique per Noise session: the join protocol binds its proof to it. */
  handshakeHash: Buffer
  remoteHost: string
  write(frame: Buffer): void
  destroy(): void
}

/**
 * The hyperswarm adapter: every agent is a DHT node on its own address and joins
 * the cluster topic as client and server. Emits 'peer' (PeerConn), 'data' (PeerConn,
 * chunk) and 'close' (PeerConn).
 */
export class SwarmTransport extends EventEmitter {
  private swarm: Hyperswarm | null = null
  private dht: HyperDHT | null = null
  private discovery: { refresh(): Promise<void>; destroy(): Promise<void> } | null = null
  /**
   * Every open connection per peer, newest last. Briefly there can be two (both sides
   * dialled; hyperswarm closes one): if the one we write to closes first, the other
   * must still be used, or that peer silently stops hearing from us.
   */
  private readonly conns = new Map<string, PeerConn[]>()

  constructor(
    private readonly init: SwarmInit,
    private readonly log: Logger,
  ) {
    super()
  }

  async start(): Promise<void> {
    const { init } = this
    const keyPair = HyperDHT.keyPair(init.seed)
    this.dht = new HyperDHT({
      // Never undefined: hyperdht falls back to public bootstrap nodes then.
      bootstrap: init.bootstrap.map((b) => ({ host: b.host, port: b.port })),
      host: init.host,
      port: init.dhtPort,
      anyPort: false,
      ephemeral: false,
      firewalled: false,
      keyPair,
    })
    await this.dht.ready()
    this.swarm = new Hyperswarm({
      dht: this.dht,
      keyPair,
      maxPeers: init.maxPeers ?? 64,
      firewall: (pk: Buffer) => init.firewall?.(pk) ?? false,
    })
    this.swarm.on('connection', (socket: any) => this.onConnection(socket))
    // Announce only: hyperswarm as a client connects to every peer a lookup finds, and
    // the mesh holds a bounded set of links that it chooses itself (dial, lookup).
    this.discovery = this.swarm.join(init.topic, { server: true, client: false })
    // Don't block start-up on the first announce: a lone first node has nobody to tell.
    this.swarm.flush().catch(() => {})
  }

  private onConnection(socket: any): void {
    const remoteKeyHex = Buffer.from(socket.remotePublicKey).toString('hex')
    const clock = this.init.clock ?? systemClock()
    const openedAt = clock.monoMs()
    const conn: PeerConn = {
      remoteKeyHex,
      stats: () => ({
        initiator: Boolean(socket.isInitiator),
        bytesIn: socket.rawBytesRead ?? 0,
        bytesOut: socket.rawBytesWritten ?? 0,
        openMs: Math.round(clock.monoMs() - openedAt),
      }),
      handshakeHash: Buffer.from(socket.handshakeHash ?? Buffer.alloc(0)),
      remoteHost: socket.rawStream?.remoteHost ?? '',
      write: (frame) => {
        if (!socket.destroyed) socket.write(frame)
      },
      destroy: () => socket.destroy(),
    }
    this.conns.set(remoteKeyHex, [...(this.conns.get(remoteKeyHex) ?? []), conn])
    // Notice a dead peer within seconds instead of ~17 s (field notes), so a stale
    // connection to a killed process closes and stops swallowing our frames. Not
    // shorter: members are judged dead by the membership table, not by this, and a
    // process starved of CPU for a few seconds (50 agents on 2 cores) runs its timers
    // before reading the data that waited, so a 4 s timeout cut most of the founder's
    // connections (1–9 of 49 held; 34–41 with 12 s). A restarted peer's new connection
    // replaces a stale one at once (hyperswarm keeps the newest established one).
    socket.setKeepAlive?.(1000)
    socket.setTimeout?.(CONNECTION_TIMEOUT_MS)
    socket.on('data', (chunk: Buffer) => this.emit('data', conn, chunk))
    socket.on('error', (err: Error) =>
      this.log.debug({ peer: remoteKeyHex.slice(0, 12), err: err.message }, 'peer connection error'),
    )
    socket.on('close', () => {
      const left = (this.conns.get(remoteKeyHex) ?? []).filter((c) => c !== conn)
      if (left.length > 0) this.conns.set(remoteKeyHex, left)
      else this.conns.delete(remoteKeyHex)
      this.emit('close', conn)
    })
    this.emit('peer', conn)
  }

  /**
   * Connect straight to a peer whose key and DHT address we know, through its own
   * DHT node. Topic lookups need a third node to hold announcements, so two boards
   * alone would never meet that way; this also makes a rejoin immediate.
   * The peer is handed to hyperswarm as if a lookup had found it at that address, so
   * hyperswarm still owns the connection: one per peer, its retries and backoff.
   */
  dial(hp: Required<Pick<HostPort, 'key'>> & HostPort): void {
    const swarm = this.swarm as unknown as SwarmInternals | null
    if (!swarm || this.conns.has(hp.key)) return
    const publicKey = Buffer.from(hp.key, 'hex')
    if (typeof swarm._handlePeer !== 'function')
      throw new Error('assertion failed: hyperswarm lacks _handlePeer')
    // Hyperswarm counts every connection shorter than 15 s as a failed attempt and, past 3,
    // does not queue a peer it once reached as a client (it resets the count only for
    // others). Links here are often short on purpose (a joiner's link to its signer, links
    // shed for room), and whether to dial is the mesh's decision, with its own backoff:
    // each dial starts afresh (a guard; see docs/architecture.md, swarm.ts).
    const info = swarm.peers?.get(hp.key)
    if (info && !info.queued) {
      if (typeof info._reset !== 'function')
        throw new Error('assertion failed: hyperswarm peer info lacks _reset')
      info._reset()
    }
    swarm._handlePeer({ publicKey, relayAddresses: [{ host: hp.host, port: hp.port }] }, this.init.topic)
  }

  /**
   * Close every connection to a peer, and keep hyperswarm from dialling it again by
   * itself: a link closed on purpose stays closed until the mesh dials it.
   */
  close(keyHex: string): void {
    for (const c of this.conns.get(keyHex) ?? []) c.destroy()
    const swarm = this.swarm as unknown as SwarmInternals | null
    const info = swarm?.peers?.get(keyHex)
    if (!info) return
    if (!Array.isArray(info.topics) || !(info._seenTopics instanceof Set))
      throw new Error('assertion failed: hyperswarm peer info lacks topics')
    info.topics = []
    info._seenTopics.clear()
  }

  /** Peers announcing the topic, found by a DHT lookup (for a node that knows no key at all). */
  async lookup(limit: number): Promise<HostPort[]> {
    const dht = this.dht
    if (!dht) return []
    const out: HostPort[] = []
    try {
      for await (const data of dht.lookup(this.init.topic)) {
        for (const peer of data.peers ?? []) {
          const key = Buffer.from(peer.publicKey).toString('hex')
          const addr = peer.relayAddresses?.[0]
          if (addr && !out.some((p) => p.key === key)) out.push({ host: addr.host, port: addr.port, key })
        }
        if (out.length >= limit) break
      }
    } catch {
      // A failed lookup finds nobody; the caller tries again later.
    }
    return out.slice(0, limit)
  }

  /**
   * Every open connection. Writing to both while a duplicate pair lasts costs a few
   * stale drops at the receiver and guarantees it hears us whichever one survives.
   */
  connections(): PeerConn[] {
    return [...this.conns.values()].flat()
  }

  /** Distinct peers we are connected to. */
  peerCount(): number {
    return this.conns.size
  }

  /** Look the topic up again: hyperswarm itself only re-announces every ~10 minutes. */
  async refresh(): Promise<void> {
    await this.discovery?.refresh().catch(() => {})
  }

  /** Teach the DHT a peer found later (mDNS, the mesh itself). */
  addNode(hp: HostPort): void {
    this.dht?.addNode({ host: hp.host, port: hp.port })
  }

  bootstrapNodes(): HostPort[] {
    return (this.dht?.bootstrapNodes ?? []).map((n: HostPort) => ({ host: n.host, port: n.port }))
  }

  dhtAddress(): HostPort | null {
    const a = this.dht?.address()
    return a ? { host: a.host, port: a.port } : null
  }

  async destroy(): Promise<void> {
    const swarm = this.swarm
    this.swarm = null
    if (swarm) await swarm.destroy().catch(() => {})
    this.dht = null
  }
}
