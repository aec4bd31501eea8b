import { canonicalJson } from '../core/canonical.js'
import type { Clock, Timer } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { type Identity, nodeIdFromPublicKey } from '../identity/identity.js'
import { formatHostPort, type HostPort } from './bootstrap.js'
import { FirstContact, LEARNED_MAX, type ShellTransport } from './first-contact.js'
import type { DropReason } from './intake.js'
import { Liveness, type LivenessMessage, type LivenessSettings } from './liveness.js'
import { MemberViews } from './member-view.js'
import type { Member } from './membership.js'
import type { MeshStateStore } from './peers-store.js'
import { PendingRecords } from './pending-records.js'
import { type NodeRecordBody, RecordVerifier, type SignedRecord, signRecord } from './record.js'
import type { PeerConn } from './swarm.js'
import type { MemberEvent, RecordMeta } from './swim/types.js'
import { checkUpdates, tellsBeforeCertified } from './swim-intake.js'
import type { SwimWireMessage } from './swim-wire.js'

export interface SwimShellInit extends LivenessSettings {
  clusterId: string
  /** Configured peers; those with a key are dialled while we know no member. */
  bootstrap: HostPort[]
}

export type { ShellTransport }

export interface SwimShellComponents {
  identity: Identity
  clock: Clock
  random: Random
  log: Logger
  events: EventLog
  counters: Counters
  transport: ShellTransport
  store: MeshStateStore
  /** The certificate gate: absent, every well-signed record of the cluster is admitted. */
  gate?: {
    canAdmit(): boolean
    admits(body: NodeRecordBody): 'member' | 'uncertified' | 'revoked'
  }
  /** The parts of our record other layers own (name, addresses, facts, roles). */
  selfRecord(): Omit<NodeRecordBody, 'v' | 'cluster' | 'id' | 'publicKey' | 'incarnation' | 'heartbeat'>
  send(conn: PeerConn, msg: SwimWireMessage): void
  /** A well-signed record of a node whose certificate we lack (trust asks for it). */
  uncertified(conn: PeerConn, body: NodeRecordBody): void
  drop(conn: PeerConn, reason: DropReason, detail: string): void
}

/** Our record is compared with what other layers say every this often; a change is announced. */
const SELF_CHECK_MS = 1000
const PERSIST_MS = 10_000
const EVENT_TEXT: Record<Exclude<MemberEvent['kind'], 'updated'>, string> = {
  joined: 'joined the mesh',
  suspect: 'stopped answering: suspect',
  refuted: 'answered again: alive',
  dead: 'marked dead',
  rejoined: 'came back',
}

/**
 * The agent's membership: the SWIM machine and link book (Liveness) over hyperswarm
 * connections, with signed records checked at the door (cluster, signature, certificate),
 * our own record re-signed when it changes or when we must refute, and the incarnation
 * persisted so a restart always comes back higher. Members are judged by probes, not by
 * heartbeats: per-node load does not grow with the cluster.
 */
export class SwimShell {
  private live: Liveness<SignedRecord> | null = null
  private incarnation = 0
  private version = 0
  private selfContent = ''
  private self: SignedRecord | null = null
  private readonly idOfKey = new Map<string, string>()
  private readonly verifier = new RecordVerifier()
  private readonly bytes = new WeakMap<SignedRecord, number>()
  private readonly first: FirstContact
  private couldAdmit = true
  /** The incarnation moved since it was saved. */
  private incarnationDirty = false
  /** A member came, went or came back since the peers were last saved. */
  private membersChanged = false
  private saving: Promise<void> = Promise.resolve()
  private readonly views = new MemberViews()
  private readonly pending = new PendingRecords()
  private readonly timers: Timer[] = []

  constructor(
    private readonly init: SwimShellInit,
    private readonly c: SwimShellComponents,
  ) {
    this.first = new FirstContact(c.identity.publicKey.toString('hex'), c.clock, c.transport)
  }

  get selfIncarnation(): number {
    return this.incarnation
  }

  /** Lifeguard's local health: the score stretching our periods, and the event-loop lag behind it. */
  get health(): { score: number; lagMs: number } {
    return { score: this.live?.swim.health ?? 0, lagMs: Math.round(this.live?.swim.lagMs ?? 0) }
  }

  get liveness(): Liveness<SignedRecord> {
    if (!this.live) throw new Error('assertion failed: the mesh has not started')
    return this.live
  }

  async start(): Promise<void> {
    const saved = await this.c.store.load()
    // A restart always comes back with a higher incarnation than anything it sent before.
    this.incarnation = saved.incarnation + 1
    for (const p of [...saved.peers, ...this.init.bootstrap]) this.first.learn(p)
    await this.c.store.save(this.incarnation, this.knownPeers())
    this.live = new Liveness<SignedRecord>(
      {
        selfId: this.c.identity.id,
        self: this.signSelf(),
        swim: this.init.swim,
        links: this.init.links,
        linkTimings: this.init.linkTimings,
        replanMs: this.init.replanMs,
        reconnectDeadMs: this.init.reconnectDeadMs,
        reconnectForMs: this.init.reconnectForMs,
      },
      {
        clock: this.c.clock,
        random: this.c.random,
        transport: {
          send: (id, msg) => this.sendTo(id, msg),
          dial: (id) => this.dial(id),
          close: (id) => this.closeLinks(id),
          dialBootstrap: () => this.first.dial(),
        },
        meta: (r) => this.meta(r),
        resign: (incarnation) => this.refuted(incarnation),
        onEvent: (e) => this.event(e),
        onRefute: () => {},
      },
    )
    this.live.start()
    this.timers.push(this.c.clock.setInterval(() => this.checkSelf(), SELF_CHECK_MS))
    this.timers.push(this.c.clock.setInterval(() => void this.persist(), PERSIST_MS))
  }

  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel()
    // Tell the neighbours we are going: nobody needs to wait out a suspicion for us.
    this.live?.leave()
    this.live?.stop()
    await this.persist()
  }

  /** Our own record as it is now. */
  selfSigned(): SignedRecord {
    return this.self ?? this.signSelf()
  }

  /** Every member we know, in the shape the rest of the agent reads. */
  members(): Member[] {
    if (!this.live) return []
    const nowMs = this.c.clock.nowMs()
    const mono = this.c.clock.monoMs()
    return this.views.of(this.live.swim.members(), nowMs, mono)
  }

  opened(conn: PeerConn): void {
    this.live?.connectionOpened(this.idOf(conn.remoteKeyHex))
  }

  closed(conn: PeerConn): void {
    const still = this.c.transport.connections().some((c) => c.remoteKeyHex === conn.remoteKeyHex)
    if (!still) this.live?.connectionClosed(this.idOf(conn.remoteKeyHex))
  }

  receive(conn: PeerConn, msg: SwimWireMessage): void {
    const live = this.live
    if (!live) return
    const from = this.idOf(conn.remoteKeyHex)
    if (!('gossip' in msg)) {
      live.receive(from, msg as LivenessMessage<SignedRecord>)
      return
    }
    // A digest's record is its sender's own: anything else there is a forgery.
    if (
      msg.t === 'digest' &&
      msg.gossip.some((u) => 'record' in u && u.record.body.publicKey !== conn.remoteKeyHex)
    ) {
      this.c.drop(conn, 'impersonation', 'a digest carrying another node’s record')
      return
    }
    // A node waiting for its certificate can admit nobody: checking signatures would be waste.
    const canAdmit = this.c.gate?.canAdmit() ?? true
    const { accepted, dropped } = checkUpdates(canAdmit ? msg.gossip : [], {
      clusterId: this.init.clusterId,
      verifier: this.verifier,
      classify: (r) => this.classify(r),
      ...(this.c.gate ? { admits: (b: NodeRecordBody) => this.c.gate!.admits(b) } : {}),
    })
    for (const d of dropped) {
      if (d.reason === 'uncertified') {
        this.c.uncertified(conn, d.body)
        this.pending.add(d.update, conn, this.c.clock.monoMs())
      }
      this.c.drop(conn, d.reason as DropReason, `record of ${d.body.id}`)
    }
    live.receive(from, {
      ...msg,
      gossip: canAdmit ? accepted : msg.gossip.filter((u) => !('record' in u)),
    } as LivenessMessage<SignedRecord>)
  }

  /** Revoked nodes: forgotten, their links cut. */
  expel(ids: string[]): void {
    for (const id of ids) this.live?.expel(id)
  }

  /** Hold a link to member `id` for a while (a protocol must reach it directly). */
  reach(id: string, forMs: number): void {
    this.live?.pin(id, forMs)
  }

  /** Hold a link to a peer we know only by address (not as a member), for a while. */
  reachPeer(peer: HostPort & { key: string }, forMs: number): void {
    const id = this.idOf(peer.key)
    if (id === this.c.identity.id) return
    this.first.hold(id, peer)
    this.live?.pin(id, forMs)
  }

  /** The transport is up: reach for bootstrap peers now (dials before it went nowhere). */
  transportUp(): void {
    this.first.transportUp()
    this.live?.kick()
  }

  /**
   * The peers remembered for the next start (its DHT bootstrap list and first dials):
   * the members we hold up first, then the rest we learned or were given. The full mesh
   * remembered every member it was connected to; with bounded links a node dials only a
   * few, and a restart whose only remembered peers were dead took ~12 s just to get its
   * DHT up (and then found nobody to dial).
   */
  knownPeers(): HostPort[] {
    const own = this.c.identity.publicKey.toString('hex')
    const up = (this.live?.swim.members() ?? [])
      .filter((m) => m.state !== 'dead' && m.record.body.addresses[0])
      .map((m) => hostPortOf(m.record.body))
    const out = new Map<string, HostPort>()
    for (const p of [...up, ...this.first.known()])
      if (p.key !== own && !out.has(formatHostPort(p))) out.set(formatHostPort(p), p)
    return [...out.values()].slice(0, LEARNED_MAX)
  }

  /** Is the node with this key a member we know (in any state)? */
  knows(keyHex: string): boolean {
    return this.live?.swim.table.get(this.idOf(keyHex)) !== undefined
  }

  idOf(keyHex: string): string {
    let id = this.idOfKey.get(keyHex)
    if (id === undefined) {
      if (this.idOfKey.size >= 4096) this.idOfKey.clear()
      id = nodeIdFromPublicKey(Buffer.from(keyHex, 'hex'))
      this.idOfKey.set(keyHex, id)
    }
    return id
  }

  private classify(r: SignedRecord): 'news' | 'stale' | 'dead-incarnation' {
    const live = this.liveness
    if (live.swim.isNews(r)) return 'news'
    const m = live.swim.table.get(r.body.id)
    return m?.state === 'dead' && r.body.incarnation <= m.incarnation ? 'dead-incarnation' : 'stale'
  }

  private meta(r: SignedRecord): RecordMeta {
    let bytes = this.bytes.get(r)
    if (bytes === undefined) {
      bytes = JSON.stringify(r).length + 24
      this.bytes.set(r, bytes)
    }
    return { id: r.body.id, incarnation: r.body.incarnation, version: r.body.heartbeat, bytes }
  }

  private signSelf(): SignedRecord {
    const { identity } = this.c
    const content = this.c.selfRecord()
    this.selfContent = canonicalJson(content)
    const body: NodeRecordBody = {
      ...content,
      v: 1,
      cluster: this.init.clusterId,
      id: identity.id,
      publicKey: identity.publicKey.toString('hex'),
      incarnation: this.incarnation,
      heartbeat: this.version,
    }
    this.self = signRecord(body, identity)
    return this.self
  }

  private canAdmit(): boolean {
    return this.c.gate?.canAdmit() ?? true
  }

  /** Other layers changed our record (roles, addresses): a new version, announced. */
  private checkSelf(): void {
    const admit = this.canAdmit()
    if (admit && !this.couldAdmit) this.admitted()
    this.couldAdmit = admit
    // Records that waited for their certificate: in now, not at the next anti-entropy round.
    const gate = this.c.gate
    if (gate && admit && this.pending.size > 0)
      for (const p of this.pending.take((b) => gate.admits(b), this.c.clock.monoMs()))
        this.receive(p.conn, { t: 'gossip', gossip: [p.update] })
    if (canonicalJson(this.c.selfRecord()) === this.selfContent) return
    this.version++
    this.live?.announce(this.signSelf())
  }

  /** Certified just now: members may hold us dead at this incarnation (we could answer no probe). */
  private admitted(): void {
    this.incarnation++
    this.incarnationDirty = true
    void this.persist()
    this.live?.announce(this.signSelf())
    this.live?.resync()
  }

  private refuted(incarnation: number): SignedRecord {
    this.incarnation = incarnation
    this.c.log.info({ incarnation }, 'refuting a suspicion about this node')
    this.incarnationDirty = true
    void this.persist()
    return this.signSelf()
  }

  private sendTo(id: string, msg: LivenessMessage<SignedRecord>): boolean {
    // Uncertified, a node sends only its link wishes (swim-intake.ts), then syncs (checkSelf).
    if (!this.canAdmit() && !tellsBeforeCertified(msg)) return true
    const conns = this.c.transport.connections().filter((c) => this.idOf(c.remoteKeyHex) === id)
    for (const conn of conns) this.c.send(conn, msg as SwimWireMessage)
    return conns.length > 0
  }

  private dial(id: string): void {
    const b = this.live?.swim.table.get(id)?.record.body
    // Not a member we know: a peer asked for by address (reachPeer), if any.
    const hp = b?.addresses[0] ? hostPortOf(b) : this.first.addressOf(id)
    if (!hp) return
    this.first.learn(hp)
    this.c.transport.dial(hp)
  }

  private closeLinks(id: string): void {
    const keys = new Set(this.c.transport.connections().map((c) => c.remoteKeyHex))
    for (const key of keys) if (this.idOf(key) === id) this.c.transport.close(key)
  }

  private event(e: MemberEvent): void {
    if (e.kind === 'updated') return
    const body = this.live?.swim.table.get(e.id)?.record.body
    // Every member's address is remembered (what is saved puts the ones up first).
    if (body?.addresses[0]) this.first.learn(hostPortOf(body))
    this.membersChanged = true
    const name = body?.name ?? e.id
    const text = EVENT_TEXT[e.kind]
    this.c.log.info({ member: e.id, name, incarnation: e.incarnation, event: e.kind }, `member ${text}`)
    this.c.events.add({
      atMs: this.c.clock.nowMs(),
      kind: e.kind,
      id: e.id,
      name,
      message: `${name} ${text}`,
    })
    this.c.counters.inc('homecloud_mesh_member_events_total', { kind: e.kind })
  }

  /** Saves one after another (a stop waits for the one in flight, then writes the last word). */
  private persist(): Promise<void> {
    this.saving = this.saving.then(async () => {
      if (!this.incarnationDirty && !this.first.dirty && !this.membersChanged) return
      this.incarnationDirty = false
      this.first.dirty = false
      this.membersChanged = false
      await this.c.store.save(this.incarnation, this.knownPeers()).catch((err) => {
        this.c.log.warn({ err: (err as Error).message }, 'could not save mesh peers')
      })
    })
    return this.saving
  }
}

/** Where a member's DHT node listens, with its key (dialled directly). */
function hostPortOf(b: NodeRecordBody): HostPort & { key: string } {
  return { host: b.addresses[0] ?? '', port: b.ports.dht, key: b.publicKey }
}
