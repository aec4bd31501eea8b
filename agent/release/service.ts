import type { KeyObject } from 'node:crypto'
import { join } from 'node:path'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { EtcdClient } from '../etcd/client.js'
import type { NetbootImage } from '../netboot/manifest.js'
import { dhtPeersToDial } from './dht-peers.js'
import { Download } from './download.js'
import { PieceServer } from './exchange.js'
import { HoldersReport } from './holders-report.js'
import { ABANDONED, abandonedLabels, decideHolding, type HoldingEffect } from './holding.js'
import { MemberEtcd } from './member-etcd.js'
import type { MemberInfo } from './members.js'
import { netbootImageFor } from './netboot-image.js'
import { type ReleaseP2p, startReleaseP2p } from './p2p.js'
import { ReleaseRecords } from './records-client.js'
import type { RecordsEtcd } from './records-relay.js'
import { ReleaseStore } from './store.js'
import { firstCurrentFor, keepSet, wantedSet } from './wanted.js'
import { seedKeysRecord, setCurrentRelease } from './writes.js'

// Releases on one node (issue 13): reads the cluster's release records from etcd,
// fetches what the cluster wants every node to hold (control/releases wantedIds) from
// its peers, serves pieces to them, keeps the store within its disk, and tells netboot
// which complete release to serve per architecture. Level-triggered: every tick it
// compares what etcd says with what the store holds and starts or stops downloads.
// This file is the shell: the decisions are pure (holding.ts, wanted.ts, dht-peers.ts),
// the etcd client and the holders record have their own files (member-etcd.ts,
// holders-report.ts).

export interface ReleaseServiceInit {
  stateDir: string
  seed: Uint8Array
  /** The node identity's private key (signs this node's holders record). */
  identityKey: KeyObject
  selfKey: string
  selfId: string
  selfName: string
  clusterId: string
  clusterTag: string
  host: string
  port: number
  etcdClientPort: number
}

export interface ReleaseServiceComponents {
  clock: Clock
  log: Logger
  counters: Counters
  random: Random
  members: () => MemberInfo[]
  isMember: (publicKeyHex: string) => boolean
  tlsMaterial: () => { certPem: string; keyPem: string; caPem: string } | null
  caKeyPem: () => string | null
  /** Reads and writes release records through a voter, for a node etcd does not let in. */
  relay?: RecordsEtcd
}

/** Downloads refresh peers' bitfields and fill their request pipeline this often (completions also do). */
const downloadTickMs = 250
const recordsEveryMs = 2_000
const connectEveryMs = 5_000
type LoopKey = 'records' | 'connect' | `download:${string}`

export class ReleaseService {
  readonly store: ReleaseStore
  readonly records: ReleaseRecords
  readonly downloads = new Map<string, Download>()
  p2p: ReleaseP2p | null = null
  server: PieceServer | null = null
  problem: string | null = null
  private readonly memberEtcdClient: MemberEtcd
  private readonly holdersReport: HoldersReport
  private loop: Controller<LoopKey> | null = null
  private readonly log: Logger

  constructor(
    readonly init: ReleaseServiceInit,
    private readonly c: ReleaseServiceComponents,
  ) {
    this.log = c.log.child({ component: 'releases' })
    this.memberEtcdClient = new MemberEtcd(
      { selfId: init.selfId, etcdClientPort: init.etcdClientPort },
      { clock: c.clock, log: this.log, members: c.members, tlsMaterial: c.tlsMaterial, caKeyPem: c.caKeyPem },
    )
    this.holdersReport = new HoldersReport(
      { selfId: init.selfId, selfName: init.selfName, identityKey: init.identityKey },
      { clock: c.clock },
    )
    this.store = new ReleaseStore(join(init.stateDir, 'releases', 'store'), {
      clock: c.clock,
      log: this.log,
      counters: c.counters,
    })
    this.records = new ReleaseRecords(
      { clusterId: init.clusterId, seenFile: join(init.stateDir, 'releases', 'seen.json') },
      {
        log: this.log,
        counters: c.counters,
        caPem: () => c.tlsMaterial()?.caPem ?? null,
        memberKey: (id) => c.members().find((m) => m.id === id)?.key ?? null,
      },
    )
  }

  async start(): Promise<void> {
    await this.store.load()
    await this.records.load()
    const p2p = await startReleaseP2p({
      seed: this.init.seed,
      host: this.init.host,
      port: this.init.port,
      clusterTag: this.init.clusterTag,
      isMember: this.c.isMember,
      log: this.c.log,
    })
    this.p2p = p2p
    const server = new PieceServer(
      {},
      {
        store: this.store,
        clock: this.c.clock,
        log: this.log,
        counters: this.c.counters,
        connectedKeys: () => p2p.connectedKeys(),
      },
    )
    this.server = server
    await p2p.node.handle(p2p.piecesProtocol, (s, conn) => server.handle(s, conn), {
      maxInboundStreams: 64,
      maxOutboundStreams: 64,
    })
    // Complete releases held from before a restart are offered again.
    for (const s of this.store.all()) if (s.have.count() > 0) void p2p.provide(s.release.id).catch(() => {})
    // One controller, three kinds of key: read etcd and reconcile, dial the members, tick each download.
    this.loop = new Controller<LoopKey>(
      {
        name: 'releases',
        workersMax: 4,
        keys: () => [
          'records',
          'connect',
          ...[...this.downloads.keys()].map((id) => `download:${id}` as const),
        ],
        resyncMs: recordsEveryMs,
        sync: (key) => this.sync(key),
      },
      { clock: this.c.clock, random: this.c.random, log: this.log, counters: this.c.counters },
    ).start()
  }

  private async sync(key: LoopKey): Promise<{ requeueAfterMs: number } | undefined> {
    if (key === 'records') {
      await this.reconcile()
      return { requeueAfterMs: recordsEveryMs }
    }
    if (key === 'connect') {
      await this.connectMembers()
      return { requeueAfterMs: connectEveryMs }
    }
    const d = this.downloads.get(key.slice('download:'.length))
    if (!d) return undefined
    d.tick()
    return { requeueAfterMs: downloadTickMs }
  }

  async stop(): Promise<void> {
    await this.loop?.stop()
    await Promise.all([...this.downloads.values()].map((d) => d.stop()))
    this.memberEtcdClient.close()
    await this.p2p?.stop().catch(() => {})
  }

  /** The release records' store: etcd itself on a member, else the relay through a voter. */
  etcd(): RecordsEtcd | null {
    return this.memberEtcd() ?? (this.c.caKeyPem() ? null : (this.c.relay ?? null))
  }

  /**
   * An etcd client through the voters, as a CA-key holder (etcd-auth.ts gatewayTls); null
   * on a node without the CA key (etcd refuses it) or a certificate.
   */
  memberEtcd(): EtcdClient | null {
    return this.memberEtcdClient.client()
  }

  /** The complete release netboot serves for an architecture: the cluster's current one. */
  imageFor(arch: 'amd64' | 'arm64'): { image: NetbootImage | null; reason: string } {
    return netbootImageFor(this.records.current, this.store, arch)
  }

  private async reconcile(): Promise<void> {
    const etcd = this.etcd()
    if (!etcd) return
    const caKey = this.c.caKeyPem()
    if (caKey) await seedKeysRecord(etcd, this.init.stateDir, this.records, this.log)
    await this.records.refresh(etcd)
    if (caKey) await this.firstCurrent(etcd, caKey)
    const wanted = wantedSet(this.records)
    const keep = keepSet(this.records, wanted)
    const effects = decideHolding({
      wanted,
      keep,
      published: new Set(this.records.published.keys()),
      held: this.store.all().map((s) => ({ id: s.release.id, complete: s.have.complete() })),
      downloading: new Set(this.downloads.keys()),
    })
    let problem: string | null = null
    for (const e of effects) problem = (await this.apply(e, keep)) ?? problem
    // A download that found the disk full mid-way: room is made as when a release is added
    // (releases outside keep go, oldest first); if that is not enough its problem says so.
    if ([...this.downloads.values()].some((d) => d.diskFull))
      await this.store.ensureRoom(0, keep).catch(() => {})
    for (const d of this.downloads.values()) problem ??= d.problem
    this.problem = problem
    await this.holdersReport.write(etcd, this.store.all(), this.problem)
  }

  /** Applies one holding effect (holding.ts); a release that cannot be added says why. */
  private async apply(e: HoldingEffect, keep: ReadonlySet<string>): Promise<string | null> {
    if (e.kind !== 'fetch') {
      const d = this.downloads.get(e.id)
      this.downloads.delete(e.id)
      // Waits for a piece being written: the partial copy is removed only after.
      await d?.stop()
      if (e.kind === 'abandon') await this.abandon(e.id)
      return null
    }
    const entry = this.records.published.get(e.id)
    if (!entry) return null
    if (!this.store.get(e.id)) {
      try {
        await this.store.add(entry.release, entry.sigText, keep)
      } catch (err) {
        if (!(err instanceof HomecloudError)) throw err
        return err.message
      }
    }
    if (!this.store.get(e.id)!.have.complete() && !this.downloads.has(e.id))
      this.startDownload(e.id, entry.origin)
    return null
  }

  /** The cluster gave this release up before it arrived here: nothing of it is kept or offered. */
  private async abandon(id: string): Promise<void> {
    const s = this.store.get(id)
    this.log.info(
      { release: id, version: s?.release.manifest.version, have: s?.have.count(), of: s?.pieces.length },
      'release no longer wanted by the cluster: its partial copy is removed',
    )
    if (s) this.c.counters.inc(ABANDONED, abandonedLabels(s.have.complete()))
    await this.p2p?.unprovide(id).catch(() => {})
    await this.store.remove(id)
  }

  /** What every node fetches and keeps now (wanted.ts). */
  wantedSet(): Set<string> {
    return wantedSet(this.records)
  }

  /** What the store must keep whatever the room (wanted.ts). */
  keepSet(): Set<string> {
    return keepSet(this.records)
  }

  /** A signer makes the first release published for an architecture current (until a rollout moves it). */
  private async firstCurrent(etcd: RecordsEtcd, caKeyPem: string): Promise<void> {
    for (const arch of ['amd64', 'arm64'] as const) {
      // Read again per architecture: the write for one changes the current record.
      const first = firstCurrentFor(this.records, arch)
      if (!first) continue
      const v = await setCurrentRelease(etcd, this.records, {
        clusterId: this.init.clusterId,
        caKeyPem,
        release: first.release,
        by: 'first-publish',
        nowMs: this.c.clock.nowMs(),
      })
      if (v !== null)
        this.log.info(
          { arch, release: first.release.id, version: first.release.manifest.version },
          'first release of its architecture is current',
        )
    }
  }

  private startDownload(id: string, origin: string): void {
    const p2p = this.p2p
    if (!p2p) return
    const d = new Download(id, {
      p2p,
      store: this.store,
      clock: this.c.clock,
      log: this.log,
      counters: this.c.counters,
      random: this.c.random,
      selfKey: this.init.selfKey,
      connect: (key) => this.connect(key),
      extraPeers: () => {
        const m = this.c.members().find((x) => x.id === origin && x.alive)
        return m ? [m.key] : []
      },
    })
    this.downloads.set(id, d)
    this.loop?.add(`download:${id}`)
    this.log.info({ release: id }, 'fetching release from peers')
  }

  async connect(key: string): Promise<boolean> {
    const m = this.c.members().find((x) => x.key === key && x.alive)
    if (!m || !this.p2p) return false
    await this.p2p.connect(key, m.address, this.init.port)
    return true
  }

  /** Keeps a few live members connected for the DHT's routing table (dht-peers.ts). */
  private async connectMembers(): Promise<void> {
    const p2p = this.p2p
    if (!p2p) return
    const keys = dhtPeersToDial({
      members: this.c.members(),
      connectedKeys: p2p.connectedKeys(),
      selfKey: this.init.selfKey,
      random: this.c.random,
    })
    for (const key of keys) await this.connect(key).catch(() => false)
  }
}
