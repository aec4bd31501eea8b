import { rm } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import { type ClientTls, EtcdClient } from '../etcd/client.js'
import { idHex } from '../etcd/model/ids.js'
import type { EndpointStatus } from '../etcd/model/types.js'
import type { EtcdProcess } from '../etcd/process.js'
import { clientUrlOf, etcdFiles, peerUrlOf } from '../etcd/spec.js'
import type { Role } from '../mesh/record.js'
import { pkiPaths, writeKeyFile } from '../pki/store.js'
import { type Assignment, checkAssignment, checkSender } from './assignment.js'
import { writeEtcdCerts } from './certs.js'
import { assignmentEpochRefusal, type EpochTrust, epochOf, superseded } from './epoch.js'
import { type LocalEtcdState, readLocalState, writeLocalState } from './local-state.js'
import type { MemberEtcdSettings } from './member-files.js'
import { etcdProcessFor, moveAside, prepareFounder, readClientTls } from './member-files.js'
import {
  askMembership,
  coordinatorOf,
  membershipVerdict,
  otherEndpoints,
  retireDecision,
} from './member-queries.js'

// This node's etcd member: founding the first one, starting an assigned one, resuming
// after a restart, and retiring (stop + wipe) once the cluster has removed it. Every
// transition runs in one queue, so an assignment and a retirement never interleave. Two
// loops on one controller: 'status' reads our member's status, 'membership' asks the
// other members whether we are still one of them (member-queries.ts decides).

export interface LocalMemberInit {
  stateDir: string
  nodeId: string
  clusterId: string
  address: string
  etcd: MemberEtcdSettings
  /** How often to ask the other members whether we are still one of them. */
  checkMs?: number
  /** How often to read our own member's status (roles, leader). */
  statusMs?: number
}

export interface LocalMemberComponents {
  clock: Clock
  log: Logger
  random?: Random
  events: EventLog
  trust: EpochTrust
  caPem(): string | null
  /** Resolves once the mesh has had a chance to tell us the cluster's epoch (start only). */
  meshSettled?: () => Promise<void>
  /** Client URLs of other etcd members as the mesh knows them (records with etcd roles). */
  otherMembers(): string[]
}

export const checkMsDefault = 5000
export const statusMsDefault = 1000
const stopGraceMs = 5000
/** Retire only after this many checks in a row found us missing (a lagging member may not know us yet). */
const strikesToRetire = 2

export class LocalMember {
  private state: LocalEtcdState | null = null
  private proc: EtcdProcess | null = null
  private localClient: EtcdClient | null = null
  private clientGeneration = 0
  private lastStatus: { status: EndpointStatus; atMono: number } | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private readonly loops: Controller<'status' | 'membership'>
  private strikes = 0
  /** The coordinator said we were removed: the next membership check retires on one strike. */
  private told = false
  private stopped = false
  readonly clientUrl: string
  readonly peerUrl: string

  constructor(
    private readonly init: LocalMemberInit,
    private readonly c: LocalMemberComponents,
  ) {
    this.clientUrl = clientUrlOf(init.address, init.etcd.clientPort)
    this.peerUrl = peerUrlOf(init.address, init.etcd.peerPort)
    const everyMs = (key: 'status' | 'membership') =>
      key === 'status' ? (init.statusMs ?? statusMsDefault) : (init.checkMs ?? checkMsDefault)
    this.loops = new Controller<'status' | 'membership'>(
      {
        name: 'etcd-member',
        workersMax: 2,
        backoff: (key) => ({ initialDelayMs: everyMs(key), factor: 1, delayMsMax: everyMs(key), jitter: 0 }),
        sync: async (key) => {
          await (key === 'status' ? this.pollStatus() : this.syncMembership())
          return { requeueAfterMs: everyMs(key) }
        },
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  /** Resume the member this node was, or found the cluster's first one (founder only). */
  async start(): Promise<void> {
    this.state = await readLocalState(this.init.stateDir)
    await this.loadTls()
    // A node whose etcd cannot start still runs the rest of the agent (mesh, status page).
    await this.serial(async () => {
      const s = this.state
      if (s === null) {
        // Only the founder holds the CA key without ever having been assigned.
        if (this.c.trust.caMaterial()) await this.found()
      } else if (s.status === 'member') {
        await this.c.meshSettled?.()
        if (await this.stepAsideIfSuperseded()) return
        await this.startProcess(s)
      } else if (s.status === 'founding' || s.status === 'assigning') {
        // Interrupted before the member was complete: its data may be partial.
        await this.wipeData()
        await this.startProcess(s)
        await this.save({ ...s, status: 'member' })
      }
    }).catch((err) =>
      this.c.log.error(
        { err: (err as Error).message, hint: (err as { hint?: string }).hint },
        'etcd did not start',
      ),
    )
    this.loops.start()
    this.loops.addAfter('status', this.init.statusMs ?? statusMsDefault)
    this.loops.addAfter('membership', this.init.checkMs ?? checkMsDefault)
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loops.stop()
    await this.queue.catch(() => {})
    await this.proc?.stop(stopGraceMs)
    this.localClient?.close()
  }

  /** A client of our own member (the coordinator and the election use it); null when not running. */
  client(): EtcdClient | null {
    if (!this.running()) return null
    if (!this.localClient) {
      const tls = this.tls
      if (!tls) return null
      this.localClient = new EtcdClient(
        { endpoints: [this.clientUrl], tls, requestTimeoutMs: 3000 },
        { clock: this.c.clock },
      )
      this.clientGeneration++
    }
    return this.localClient
  }

  /** Changes whenever the client (certificates) changes: holders of an old one start over. */
  get generation(): number {
    return this.clientGeneration
  }

  running(): boolean {
    return this.proc !== null && this.state?.status === 'member'
  }

  /** Our member's own view (id, learner or voter, the raft leader), if read recently. */
  status(maxAgeMs = 5000): EndpointStatus | null {
    if (!this.running() || !this.lastStatus) return null
    return this.c.clock.monoMs() - this.lastStatus.atMono <= maxAgeMs ? this.lastStatus.status : null
  }

  isVoter(): boolean {
    return this.running() && this.lastStatus !== null && !this.lastStatus.status.isLearner
  }

  roles(): Role[] {
    const s = this.status()
    if (!s) return []
    return [s.isLearner ? 'etcd-learner' : 'etcd-voter']
  }

  // ---- transitions ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  private async found(): Promise<void> {
    const ca = this.c.trust.caMaterial()
    if (!ca) return
    const s = await prepareFounder(this.init, this.peerUrl, ca, this.c.clock)
    await this.loadTls()
    await this.save(s)
    await this.wipeData()
    await this.startProcess(s)
    await this.save({ ...s, status: 'member' })
    this.event('etcd-founded', 'founded etcd: the first member of the cluster')
  }

  /** The coordinator made us a member: check everything, then start as that member. Resolves to why it was refused, or null. */
  assign(a: Assignment): Promise<string | null> {
    return this.serial(async () => {
      if (this.stopped) return null
      const who = { nodeId: this.init.nodeId, peerUrl: this.peerUrl, clientPort: this.init.etcd.clientPort }
      const caPem = this.c.caPem()
      if (!caPem) return 'this node has no CA certificate yet'
      const refused =
        checkAssignment(a, caPem, who, this.c.clock.nowMs()) ??
        assignmentEpochRefusal(a.epoch ?? 0, this.c.trust.settings.etcdEpoch ?? 0)
      if (refused) return refused
      const s = this.state
      if (s?.status === 'member' && s.memberId === a.memberId && this.proc) return null // a resend
      const fromCoordinator = await checkSender(a, caPem, who, this.c.clock)
      if (fromCoordinator) return fromCoordinator
      const next: LocalEtcdState = {
        v: 1,
        status: 'assigning',
        memberId: a.memberId,
        initialCluster: a.initialCluster,
        initialClusterState: 'existing',
        token: a.token,
        sinceMs: this.c.clock.nowMs(),
        epoch: a.epoch ?? 0,
      }
      await this.save(next)
      await this.halt()
      await this.wipeData()
      await writeEtcdCerts(this.init.stateDir, a.certs, caPem)
      await writeKeyFile(pkiPaths(this.init.stateDir).caKey, a.caKey)
      this.c.trust.setCaKey(a.caKey)
      this.resetClient()
      await this.loadTls()
      await this.startProcess(next)
      await this.save({ ...next, status: 'member' })
      this.strikes = 0
      this.event('etcd-assigned', `joining etcd as member ${a.memberId}`)
      return null
    })
  }

  /** Are we still a member? Asked now (told: removed per the coordinator, one "absent" will do); else every checkMs. */
  checkMembership(told: boolean): void {
    if (told) this.told = true
    this.loops.add('membership')
  }

  /**
   * Asked of the other members (our own may be a zombie that the cluster removed while it
   * was away). Retire only when every member that answers agrees we are gone,
   * `strikesToRetire` checks in a row (or once, after the coordinator told us).
   */
  private async syncMembership(): Promise<void> {
    const told = this.told
    this.told = false
    if (await this.serial(() => this.stepAsideIfSuperseded())) return
    const s = this.state
    const tls = this.tls
    if (this.stopped || !s || (s.status !== 'member' && s.status !== 'assigning') || !tls) return
    const endpoints = otherEndpoints(s, this.init.etcd.clientPort, this.c.otherMembers(), this.clientUrl)
    const answers = endpoints.length
      ? await askMembership(endpoints, tls, this.c.clock, { memberId: s.memberId, peerUrl: this.peerUrl })
      : []
    const d = retireDecision(membershipVerdict(answers), this.strikes, told, strikesToRetire)
    this.strikes = d.strikes
    if (!d.retire) return
    await this.serial(async () => {
      // An assignment may have come in meanwhile: only retire the member we asked about.
      if (this.state?.memberId !== s.memberId || this.state?.status !== 'member') return
      await this.retire()
    })
  }

  /** Who holds the coordinator election, asked of the others first (ours may be a removed zombie); null: nobody answers. */
  async coordinatorPerEtcd(): Promise<string | null> {
    const s = this.state
    const tls = this.tls
    if (!s || !tls) return null
    const endpoints = [...otherEndpoints(s, this.init.etcd.clientPort, this.c.otherMembers(), this.clientUrl)]
    return coordinatorOf([...endpoints, this.clientUrl], tls, this.c.clock).catch(() => null)
  }

  private async retire(): Promise<void> {
    const s = this.state
    if (!s) return
    this.c.log.warn({ memberId: s.memberId }, 'removed from etcd: stopping etcd and wiping its data')
    await this.save({ ...s, status: 'removed', sinceMs: this.c.clock.nowMs() })
    await this.halt()
    await this.wipeData()
    await rm(pkiPaths(this.init.stateDir).caKey, { force: true }).then(() => this.c.trust.setCaKey(null))
    this.resetClient()
    this.strikes = 0
    this.event('etcd-retired', 'no longer an etcd member: etcd stopped, its data wiped')
  }

  /** Our etcd epoch (0 until a recovery): the coordinator stamps it on assignments. */
  get epoch(): number {
    return epochOf(this.state)
  }

  /** Of an epoch the cluster has left (epoch.ts): stop, move the data aside, await a new seat. In the queue. */
  private async stepAsideIfSuperseded(): Promise<boolean> {
    const s = this.state
    const clusterEpoch = this.c.trust.settings.etcdEpoch ?? 0
    if (!superseded(s, clusterEpoch) || !s) return false
    await this.halt()
    const aside = await moveAside(this.init.stateDir, clusterEpoch, this.c.clock.nowMs())
    await this.save({ ...s, status: 'removed', sinceMs: this.c.clock.nowMs() })
    this.c.trust.setCaKey(null)
    this.resetClient()
    const why = `the cluster recovered to etcd epoch ${clusterEpoch} while this member (epoch ${epochOf(s)}) was away`
    this.event('etcd-superseded', `${why}: its data moved to ${aside}`)
    return true
  }

  /** Recovery (recover.ts): etcd stopped, `restore` makes the data and state, etcd started on it. */
  async restoreWith(restore: () => Promise<LocalEtcdState>): Promise<LocalEtcdState> {
    return this.serial(async () => {
      await this.halt()
      const next = await restore()
      await this.save(next)
      this.resetClient()
      await this.loadTls()
      await this.startProcess(next)
      this.strikes = 0
      this.event('etcd-recovered', `etcd restored from a snapshot as epoch ${epochOf(next)}`)
      return next
    })
  }

  // ---- effects ----

  private async startProcess(s: LocalEtcdState): Promise<void> {
    await this.halt()
    const proc = etcdProcessFor(this.init, s, { log: this.c.log, clock: this.c.clock }, stopGraceMs)
    proc.onExit((exit, willRestart) => {
      // etcd says so itself when the cluster removed it: check with the others at once.
      if (willRestart && exit.lastLines.some((l) => l.includes('permanently removed')))
        this.checkMembership(false)
    })
    await proc.start()
    this.proc = proc
    this.state = { ...s }
    this.lastStatus = null
  }

  private async halt(): Promise<void> {
    const proc = this.proc
    this.proc = null
    this.lastStatus = null
    // SIGKILL: a member being replaced or retired has nothing left to flush for us.
    if (proc) await proc.kill()
  }

  private async wipeData(): Promise<void> {
    await rm(etcdFiles(this.init.stateDir).dataDir, { recursive: true, force: true })
  }

  private async save(s: LocalEtcdState): Promise<void> {
    await writeLocalState(this.init.stateDir, s)
    this.state = s
  }

  private resetClient(): void {
    this.localClient?.close()
    this.localClient = null
  }

  private tls: ClientTls | null = null

  /** Our etcd-client certificate, read after every change of certificates. */
  private async loadTls(): Promise<void> {
    this.tls = await readClientTls(this.init.stateDir, this.init.nodeId, this.c.clock)
  }

  private async pollStatus(): Promise<void> {
    if ((this.tls?.renewAtMs ?? Infinity) < this.c.clock.nowMs())
      await this.loadTls().then(() => this.resetClient())
    const client = this.client()
    if (!client || this.stopped) return
    try {
      const status = await client.status(this.clientUrl, 1000)
      this.lastStatus = { status, atMono: this.c.clock.monoMs() }
      const s = this.state
      if (s && s.status === 'member' && s.memberId === null && status.memberId !== 0n) {
        await this.serial(() => this.save({ ...s, memberId: idHex(status.memberId) }))
      }
    } catch {
      // Not serving yet, or down: roles drop once the last status is stale.
    }
  }

  private event(kind: string, message: string): void {
    this.c.log.info({ event: kind, memberId: this.state?.memberId }, message)
    this.c.events.add({ atMs: this.c.clock.nowMs(), kind, id: this.init.nodeId, message })
  }
}
