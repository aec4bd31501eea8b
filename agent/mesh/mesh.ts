import type { Timer } from '../core/clock.js'
import { randomBelow, systemRandom } from '../core/random.js'
import { saveFailed } from '../core/saves.js'
import { formatHostPort, type HostPort } from './bootstrap.js'
import { checkRecord, type DropReason } from './intake.js'
import {
  type HeartbeatBudget,
  heartbeatPeriodMs,
  type MembershipEvent,
  MembershipTable,
  refute,
} from './membership.js'
import {
  DIAL_DEAD_FOR_MS_MAX,
  DROP_LOG_INTERVAL_MS,
  DropLog,
  type MeshComponents,
  type MeshInit,
  REFRESH_FAST_PEERS,
  RELAY_QUEUE_MAX,
  TICK_MS,
} from './mesh-init.js'
import { type PeerView, peerView } from './peers.js'
import { type NodeRecordBody, RecordVerifier, type SignedRecord, signRecord } from './record.js'
import { type MeshRouter, MessageRouter } from './router.js'
import type { PeerConn } from './swarm.js'
import {
  DeadMessage,
  encodeFrame,
  FrameDecoder,
  type MeshMessage,
  RecMessage,
  RelayMessage,
  SuspectMessage,
  WIRE_LIMITS,
} from './wire.js'

/**
 * The effectful shell around MembershipTable: it turns bytes from hyperswarm into
 * checked records, sends our heartbeat, relays news, answers suspicion, and keeps the
 * bootstrap peers for next time. All decisions live in membership.ts and intake.ts.
 */
export class Mesh {
  readonly table: MembershipTable
  /** Published faces: the read model of peers, and the router protocols register on. */
  readonly peers: PeerView
  readonly router: MeshRouter
  private readonly routes: MessageRouter
  private incarnation = 0
  private heartbeat = 0
  private readonly timers: Timer[] = []
  private readonly decoders = new WeakMap<PeerConn, FrameDecoder>()
  private relayQueue: SignedRecord[] = []
  private readonly learnedPeers = new Map<string, HostPort>()
  private peersDirty = false
  private readonly dropLog = new DropLog(DROP_LOG_INTERVAL_MS)
  private startedMono = 0
  private stopped = false
  private heartbeatTimer: Timer | null = null
  private readonly budget: HeartbeatBudget
  private readonly verifier = new RecordVerifier()

  constructor(
    private readonly init: MeshInit,
    private readonly c: MeshComponents,
  ) {
    this.budget = { heartbeatMs: init.heartbeatMs, heartbeatsPerSecMax: init.heartbeatsPerSecMax }
    this.table = new MembershipTable(c.identity.id, init.timings, undefined, this.budget)
    this.routes = new MessageRouter(() => c.transport.connections())
    this.router = this.routes
    this.peers = peerView(
      c.identity.id,
      () => this.selfSigned().body,
      () => this.table.all(),
      () => c.transport.connections(),
    )
    this.routes.route('rec', RecMessage, (conn, m) => this.intake(conn, m.r, true))
    this.routes.route('relay', RelayMessage, (conn, m) => {
      for (const r of m.rs) this.intake(conn, r, false)
    })
    // Only a member we know may make us bump: a stranger's notice is ignored.
    this.routes.route('suspect', SuspectMessage, (conn, m) => this.onNotice(conn, m), { from: 'members' })
    this.routes.route('dead', DeadMessage, (conn, m) => this.onNotice(conn, m), { from: 'members' })
  }

  /** The current heartbeat period: the base one until the cluster outgrows the budget. */
  heartbeatPeriodMs(): number {
    return heartbeatPeriodMs(this.budget, this.table.livePeers())
  }

  get selfIncarnation(): number {
    return this.incarnation
  }

  async start(): Promise<void> {
    const saved = await this.c.store.load()
    // A restart always comes back with a higher incarnation than anything it sent before.
    this.incarnation = saved.incarnation + 1
    for (const p of [...saved.peers, ...this.init.bootstrap]) {
      const addr = formatHostPort(p)
      if (p.key || !this.learnedPeers.get(addr)?.key) this.learnedPeers.set(addr, p)
    }
    await this.c.store.save(this.incarnation, [...this.learnedPeers.values()])
    const t = this.c.transport
    t.on('peer', (conn: PeerConn) => this.onPeer(conn))
    t.on('data', (conn: PeerConn, chunk: Buffer) => this.onData(conn, chunk))
    this.startedMono = this.c.clock.monoMs()
    this.scheduleHeartbeat()
    // Judging liveness is cheap (no I/O unless something changes): tick often, so a
    // death is noticed within 100 ms of its deadline rather than half a heartbeat later.
    this.timers.push(this.c.clock.setInterval(() => this.onTick(), TICK_MS))
    this.dialKnown()
    this.scheduleRefresh()
    this.timers.push(this.c.clock.setInterval(() => void this.persistPeers(), 10_000))
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers) t.cancel()
    this.heartbeatTimer?.cancel()
    await this.persistPeers()
  }

  /** Our own record as it is now (freshly signed). */
  selfSigned(): SignedRecord {
    const { identity } = this.c
    const body: NodeRecordBody = {
      ...this.c.selfRecord(),
      v: 1,
      cluster: this.init.clusterId,
      id: identity.id,
      publicKey: identity.publicKey.toString('hex'),
      incarnation: this.incarnation,
      heartbeat: this.heartbeat,
    }
    return signRecord(body, identity)
  }

  knownPeers(): HostPort[] {
    return [...this.learnedPeers.values()]
  }

  private scheduleRefresh(): void {
    if (this.stopped) return
    const young = this.c.clock.monoMs() - this.startedMono < 60_000
    const anySuspect = this.table.all().some((m) => m.state === 'suspect')
    // Every refresh is a DHT lookup and announce, and the nodes closest to the topic
    // answer everyone's: past a few peers the fast pace slows with the cluster (members
    // are dialled by key anyway; the lookup only finds strangers), with jitter so the
    // cluster's lookups do not come in waves.
    const fastMs =
      this.init.refreshFastMs *
      Math.max(1, this.table.livePeers() / REFRESH_FAST_PEERS) *
      (0.75 + (this.c.random ?? systemRandom()).next() / 2)
    const ms = young || anySuspect ? fastMs : this.init.refreshSlowMs
    this.timers.push(
      this.c.clock.setTimeout(() => {
        this.dialKnown()
        void this.c.transport.refresh().finally(() => this.scheduleRefresh())
      }, ms),
    )
  }

  /** Dial every peer we know by key and are not connected to (members long dead excepted). */
  dialKnown(): void {
    const now = this.c.clock.nowMs()
    const longDead = new Set(
      this.table
        .all()
        .filter((m) => m.state === 'dead' && now - m.stateSinceMs > DIAL_DEAD_FOR_MS_MAX)
        .map((m) => m.signed.body.publicKey),
    )
    for (const p of this.learnedPeers.values()) {
      if (p.key && !longDead.has(p.key)) this.c.transport.dial({ ...p, key: p.key })
    }
  }

  /** A timeout per beat rather than an interval: the period follows the cluster's size. */
  private scheduleHeartbeat(): void {
    if (this.stopped) return
    this.heartbeatTimer = this.c.clock.setTimeout(() => {
      this.onHeartbeat()
      this.scheduleHeartbeat()
    }, this.heartbeatPeriodMs())
  }

  private onHeartbeat(): void {
    this.heartbeat++
    this.broadcast({ t: 'rec', r: this.selfSigned() })
    this.flushRelays()
  }

  private onTick(): void {
    const events = this.table.tick(this.c.clock.monoMs(), this.c.clock.nowMs())
    for (const ev of events) {
      this.record(ev)
      if (ev.kind === 'suspect') {
        // Tell the member directly: if it is only slow it refutes at once.
        const m = this.table.get(ev.id)
        const conn = m && this.connFor(m.signed.body.publicKey)
        conn?.write(encodeFrame({ t: 'suspect', incarnation: ev.incarnation }))
      }
    }
  }

  private onPeer(conn: PeerConn): void {
    this.decoders.set(conn, new FrameDecoder(this.init.frameBytesMax))
    conn.write(encodeFrame({ t: 'rec', r: this.selfSigned() }))
    // A newcomer learns the whole view at once instead of waiting for every heartbeat.
    const known = this.table
      .all()
      .filter((m) => m.state !== 'dead')
      .map((m) => m.signed)
    for (let i = 0; i < known.length; i += WIRE_LIMITS.recordsPerFrameMax) {
      conn.write(encodeFrame({ t: 'relay', rs: known.slice(i, i + WIRE_LIMITS.recordsPerFrameMax) }))
    }
    this.routes.connected(conn)
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
      // Certificates, keys and notices travel on members-only types: never from a stranger.
      if (parsed.route.from === 'members' && !this.isMemberKey(conn.remoteKeyHex)) {
        this.drop(conn, 'not-member', `${parsed.msg.t} message`)
        continue
      }
      parsed.route.handle(conn, parsed.msg)
    }
  }

  private onNotice(conn: PeerConn, msg: Extract<MeshMessage, { t: 'suspect' | 'dead' }>): void {
    const next = refute(this.incarnation, msg.incarnation)
    if (next === this.incarnation) return
    this.incarnation = next
    this.c.log.info({ from: conn.remoteKeyHex.slice(0, 12), notice: msg.t, incarnation: next }, 'refuting')
    void this.c.store
      .save(this.incarnation, this.knownPeers())
      .catch(saveFailed(this.c.log, this.c.counters, 'mesh peers'))
    this.heartbeat++
    this.broadcast({ t: 'rec', r: this.selfSigned() })
  }

  /** Revoked nodes: forget them and cut every connection they hold. */
  expel(nodeIds: string[]): void {
    for (const id of nodeIds) {
      const m = this.table.get(id)
      if (!m) continue
      for (const conn of this.c.transport.connections())
        if (conn.remoteKeyHex === m.signed.body.publicKey) conn.destroy()
      this.table.forget(id)
    }
  }

  private intake(conn: PeerConn, rec: SignedRecord, direct: boolean): void {
    // A joiner waiting for its certificate would otherwise check the signature of every
    // member's every heartbeat only to drop it; with many joiners at once that starved
    // the signer they wait for.
    if (this.c.gate && !this.c.gate.canAdmit()) {
      this.drop(conn, 'uncertified', `record of ${rec.body.id}`)
      return
    }
    const check = checkRecord(rec, {
      clusterId: this.init.clusterId,
      table: this.table,
      directFrom: direct ? conn.remoteKeyHex : undefined,
      verifier: this.verifier,
    })
    if (!check.ok) {
      if (check.reason === 'self') return
      if (check.reason === 'dead-incarnation' && direct) {
        conn.write(encodeFrame({ t: 'dead', incarnation: check.deadIncarnation ?? rec.body.incarnation }))
      }
      this.drop(conn, check.reason, `record of ${rec.body.id}`)
      return
    }
    const admitted = this.c.gate?.admits(rec.body) ?? 'member'
    if (admitted !== 'member') {
      if (admitted === 'uncertified') this.routes.uncertified(conn, rec.body, direct)
      this.drop(conn, admitted, `record of ${rec.body.id}`)
      if (admitted === 'revoked' && direct) conn.destroy()
      return
    }
    const verdict = this.table.accept(rec, this.c.clock.monoMs(), this.c.clock.nowMs())
    if (!verdict.accepted) {
      if (verdict.reason !== 'self') this.drop(conn, verdict.reason, `record of ${rec.body.id}`)
      return
    }
    for (const ev of verdict.events) this.record(ev)
    this.learnPeer(rec.body)
    if (this.relayQueue.length < RELAY_QUEUE_MAX) this.relayQueue.push(rec)
  }

  private learnPeer(body: NodeRecordBody): void {
    const host = body.addresses[0]
    if (!host) return
    const hp = { host, port: body.ports.dht, key: body.publicKey }
    const addr = formatHostPort(hp)
    if (this.learnedPeers.get(addr)?.key !== hp.key) {
      this.learnedPeers.set(addr, hp)
      this.peersDirty = true
      // Connect to every member directly: a full mesh without waiting for DHT lookups.
      this.c.transport.dial(hp)
    }
  }

  private flushRelays(): void {
    if (this.relayQueue.length === 0) return
    // In a full mesh everyone hears every heartbeat first-hand; relaying would only
    // triple the traffic. Relays are for members we (and so maybe others) cannot reach.
    if (this.fullyConnected()) {
      this.relayQueue = []
      return
    }
    const batch = this.relayQueue.splice(0, WIRE_LIMITS.recordsPerFrameMax)
    const conns = this.c.transport.connections()
    for (let i = 0; i < this.init.relayFanout && conns.length > 0; i++) {
      const j = randomBelow(this.c.random ?? systemRandom(), conns.length)
      const [conn] = conns.splice(j, 1)
      const rs = batch.filter((r) => r.body.publicKey !== conn!.remoteKeyHex)
      if (rs.length > 0) conn!.write(encodeFrame({ t: 'relay', rs }))
    }
  }

  private fullyConnected(): boolean {
    const connected = new Set(this.c.transport.connections().map((c) => c.remoteKeyHex))
    return this.table.all().every((m) => m.state !== 'alive' || connected.has(m.signed.body.publicKey))
  }

  private broadcast(msg: MeshMessage): void {
    const frame = encodeFrame(msg)
    for (const conn of this.c.transport.connections()) conn.write(frame)
  }

  private isMemberKey(publicKeyHex: string): boolean {
    return this.table.all().some((m) => m.signed.body.publicKey === publicKeyHex)
  }

  private connFor(publicKeyHex: string): PeerConn | undefined {
    return this.c.transport.connections().find((c) => c.remoteKeyHex === publicKeyHex)
  }

  private record(ev: MembershipEvent): void {
    const text: Record<MembershipEvent['kind'], string> = {
      joined: 'joined the mesh',
      suspect: 'stopped answering: suspect',
      refuted: 'answered again: alive',
      dead: 'marked dead',
      rejoined: 'came back',
    }
    this.c.log.info(
      { member: ev.id, name: ev.name, incarnation: ev.incarnation, event: ev.kind },
      `member ${text[ev.kind]}`,
    )
    this.c.events.add({
      atMs: this.c.clock.nowMs(),
      kind: ev.kind,
      id: ev.id,
      name: ev.name,
      message: `${ev.name} ${text[ev.kind]}`,
    })
  }

  /** One counter per reason; one log line per reason at most every few seconds (floods stay cheap). */
  private drop(conn: PeerConn, reason: DropReason, detail: string): void {
    this.c.counters.inc('homecloud_mesh_messages_dropped_total', { reason })
    // Duplicates are normal with relaying; joiners send heartbeats before they hold a certificate.
    if (reason === 'stale' || reason === 'uncertified') return
    const suppressed = this.dropLog.due(reason, this.c.clock.monoMs())
    if (suppressed === null) return
    const peer = conn.remoteKeyHex.slice(0, 12)
    this.c.log.warn({ peer, host: conn.remoteHost, reason, detail, suppressed }, 'dropped peer message')
  }

  private async persistPeers(): Promise<void> {
    if (!this.peersDirty) return
    this.peersDirty = false
    await this.c.store
      .save(this.incarnation, this.knownPeers())
      .catch(saveFailed(this.c.log, this.c.counters, 'mesh peers'))
  }
}
