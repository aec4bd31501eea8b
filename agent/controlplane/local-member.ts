import { readFile, rm } from 'node:fs/promises'
import { COORDINATOR_ELECTION } from '../../control/coordinator/placement-record.js'
import type { Clock, Timer } from '../core/clock.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import { etcdBinDir, etcdProgram } from '../etcd/binaries.js'
import { type ClientTls, type EndpointStatus, EtcdClient } from '../etcd/client.js'
import { idHex } from '../etcd/ids.js'
import { formatInitialCluster, parseInitialCluster } from '../etcd/initial-cluster.js'
import { EtcdProcess } from '../etcd/process.js'
import { clientUrlOf, type EtcdMemberSpec, etcdFiles, peerUrlOf } from '../etcd/spec.js'
import type { Role } from '../mesh/record.js'
import type { CaMaterial } from '../pki/ca.js'
import { pkiPaths, writeKeyFile } from '../pki/store.js'
import { caKeyMatches } from '../trust/trust.js'
import { checkEtcdCerts, type EtcdCerts, issueEtcdCerts, writeEtcdCerts } from './certs.js'
import { type LocalEtcdState, readLocalState, writeLocalState } from './local-state.js'

// This node's etcd member: founding the first one, starting an assigned one, resuming
// after a restart, and retiring (stop + wipe) once the cluster has removed it. Every
// transition runs in one queue, so an assignment and a retirement never interleave.

export interface LocalMemberInit {
  stateDir: string
  nodeId: string
  clusterId: string
  address: string
  etcd: {
    /** The directory holding etcd; default the pinned build (etcd/binaries.ts). */
    binDir?: string
    clientPort: number
    peerPort: number
    heartbeatMs: number
    electionTimeoutMs: number
  }
  /** How often to ask the other members whether we are still one of them. */
  checkMs?: number
  /** How often to read our own member's status (roles, leader). */
  statusMs?: number
}

export interface LocalMemberComponents {
  clock: Clock
  log: Logger
  events: EventLog
  /** The trust layer's signer switch and CA. */
  trust: { caMaterial(): CaMaterial | null; setCaKey(keyPem: string | null): boolean }
  caPem(): string | null
  /** Client URLs of other etcd members as the mesh knows them (records with etcd roles). */
  otherMembers(): string[]
}

/** An assignment as received (etcd-assign), already schema-checked. */
export interface Assignment {
  memberId: string
  initialCluster: string
  token: string
  certs: EtcdCerts
  caKey: string
  /** The sender's node id (from its authenticated mesh key); null when not a known member. */
  from: string | null
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
  private readonly timers: Timer[] = []
  private strikes = 0
  private checking = false
  private stopped = false
  readonly clientUrl: string
  readonly peerUrl: string

  constructor(
    private readonly init: LocalMemberInit,
    private readonly c: LocalMemberComponents,
  ) {
    this.clientUrl = clientUrlOf(init.address, init.etcd.clientPort)
    this.peerUrl = peerUrlOf(init.address, init.etcd.peerPort)
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
    this.timers.push(
      this.c.clock.setInterval(() => void this.pollStatus(), this.init.statusMs ?? statusMsDefault),
    )
    this.timers.push(
      this.c.clock.setInterval(() => void this.checkMembership(false), this.init.checkMs ?? checkMsDefault),
    )
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers) t.cancel()
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
    const certs = await issueEtcdCerts({
      ca,
      nodeId: this.init.nodeId,
      address: this.init.address,
      clock: this.c.clock,
    })
    await writeEtcdCerts(this.init.stateDir, certs, ca.certPem)
    await this.loadTls()
    const s: LocalEtcdState = {
      v: 1,
      status: 'founding',
      memberId: null,
      initialCluster: formatInitialCluster([{ name: this.init.nodeId, peerUrl: this.peerUrl }]),
      initialClusterState: 'new',
      token: this.init.clusterId,
      sinceMs: this.c.clock.nowMs(),
    }
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
      const refused = this.checkAssignment(a)
      if (refused) return refused
      const s = this.state
      if (s?.status === 'member' && s.memberId === a.memberId && this.proc) return null // a resend
      const fromCoordinator = await this.checkSender(a)
      if (fromCoordinator) return fromCoordinator
      const next: LocalEtcdState = {
        v: 1,
        status: 'assigning',
        memberId: a.memberId,
        initialCluster: a.initialCluster,
        initialClusterState: 'existing',
        token: a.token,
        sinceMs: this.c.clock.nowMs(),
      }
      await this.save(next)
      await this.halt()
      await this.wipeData()
      await writeEtcdCerts(this.init.stateDir, a.certs, this.c.caPem()!)
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

  private checkAssignment(a: Assignment): string | null {
    const caPem = this.c.caPem()
    if (!caPem) return 'this node has no CA certificate yet'
    if (!caKeyMatches(caPem, a.caKey)) return 'the CA key does not belong to our CA'
    const certs = checkEtcdCerts(a.certs, caPem, this.init.nodeId, this.c.clock.nowMs())
    if (certs) return certs
    try {
      const entries = parseInitialCluster(a.initialCluster)
      if (!entries.some((e) => e.name === this.init.nodeId && e.peerUrl === this.peerUrl))
        return `the initial cluster does not list ${this.init.nodeId}=${this.peerUrl}`
    } catch (err) {
      return (err as Error).message
    }
    return null
  }

  /**
   * Only the coordinator hands out seats: asked of the members the assignment lists, with
   * the client certificate it carries (a CA-key holder that is not the coordinator, e.g. a
   * voter with a stale view, is refused; the real coordinator resends after a few seconds).
   */
  private async checkSender(a: Assignment): Promise<string | null> {
    const caPem = this.c.caPem()
    if (!caPem) return 'this node has no CA certificate yet'
    let endpoints: string[]
    try {
      endpoints = parseInitialCluster(a.initialCluster)
        .filter((e) => e.name !== this.init.nodeId)
        .map((e) =>
          clientUrlOf(new URL(e.peerUrl).hostname.replace(/^\[|\]$/g, ''), this.init.etcd.clientPort),
        )
    } catch (err) {
      return (err as Error).message
    }
    if (endpoints.length === 0) return 'the initial cluster lists no other member to ask'
    const client = new EtcdClient(
      {
        endpoints,
        tls: { caPem, certPem: a.certs['etcd-client'].certPem, keyPem: a.certs['etcd-client'].keyPem },
        requestTimeoutMs: 2000,
      },
      { clock: this.c.clock },
    )
    try {
      const coordinator = (await client.leader(COORDINATOR_ELECTION))?.value ?? null
      if (coordinator === null || coordinator !== a.from)
        return `sent by ${a.from ?? 'an unknown node'}, but etcd names ${coordinator ?? 'no one'} coordinator`
      return null
    } catch (err) {
      return `could not ask etcd who coordinates: ${(err as Error).message}`
    } finally {
      client.close()
    }
  }

  /**
   * Are we still a member? Asked of the other members (our own may be a zombie that
   * the cluster removed while it was away). Retire only when every member that answers
   * agrees we are gone, `strikesToRetire` checks in a row (or once, after the
   * coordinator told us).
   */
  checkMembership(told: boolean): Promise<void> {
    if (this.checking || this.stopped) return Promise.resolve()
    const s = this.state
    if (!s || (s.status !== 'member' && s.status !== 'assigning')) return Promise.resolve()
    this.checking = true
    return this.askOthers(s)
      .then(async (verdict) => {
        if (verdict !== 'absent') {
          if (verdict === 'present') this.strikes = 0
          return
        }
        this.strikes++
        if (told || this.strikes >= strikesToRetire) {
          await this.serial(async () => {
            // An assignment may have come in meanwhile: only retire the member we asked about.
            if (this.state?.memberId !== s.memberId || this.state?.status !== 'member') return
            await this.retire()
          })
        }
      })
      .finally(() => {
        this.checking = false
      })
  }

  /**
   * Who holds the coordinator election, asked of the other members first (our own may
   * be a zombie the cluster removed); null when nobody answers.
   */
  async coordinatorPerEtcd(): Promise<string | null> {
    const s = this.state
    const tls = this.tls
    if (!s || !tls) return null
    const client = new EtcdClient(
      { endpoints: [...this.otherEndpoints(s), this.clientUrl], tls, requestTimeoutMs: 2000 },
      { clock: this.c.clock },
    )
    try {
      return (await client.leader(COORDINATOR_ELECTION))?.value ?? null
    } catch {
      return null
    } finally {
      client.close()
    }
  }

  private otherEndpoints(s: LocalEtcdState): string[] {
    const fromInitial = (() => {
      try {
        return parseInitialCluster(s.initialCluster).map((e) => {
          const u = new URL(e.peerUrl)
          return clientUrlOf(u.hostname.replace(/^\[|\]$/g, ''), this.init.etcd.clientPort)
        })
      } catch {
        return []
      }
    })()
    return [...new Set([...fromInitial, ...this.c.otherMembers()])].filter((u) => u !== this.clientUrl)
  }

  private async askOthers(s: LocalEtcdState): Promise<'present' | 'absent' | 'unknown'> {
    const tls = this.tls
    if (!tls) return 'unknown'
    const endpoints = this.otherEndpoints(s)
    if (endpoints.length === 0) return 'unknown'
    const answers = await Promise.all(
      endpoints.map(async (endpoint) => {
        const client = new EtcdClient(
          { endpoints: [endpoint], tls, requestTimeoutMs: 2000 },
          { clock: this.c.clock },
        )
        try {
          const list = await client.memberList()
          return list.members.some((m) =>
            s.memberId !== null ? idHex(m.id) === s.memberId : m.peerUrls.includes(this.peerUrl),
          )
        } catch {
          return undefined
        } finally {
          client.close()
        }
      }),
    )
    const said = answers.filter((a): a is boolean => a !== undefined)
    if (said.length === 0) return 'unknown'
    return said.every((present) => !present) ? 'absent' : 'present'
  }

  private async retire(): Promise<void> {
    const s = this.state
    if (!s) return
    this.c.log.warn({ memberId: s.memberId }, 'removed from etcd: stopping etcd and wiping its data')
    await this.save({ ...s, status: 'removed', sinceMs: this.c.clock.nowMs() })
    await this.halt()
    await this.wipeData()
    await rm(pkiPaths(this.init.stateDir).caKey, { force: true })
    this.c.trust.setCaKey(null)
    this.resetClient()
    this.strikes = 0
    this.event('etcd-retired', 'no longer an etcd member: etcd stopped, its data wiped')
  }

  // ---- effects ----

  private spec(s: LocalEtcdState): EtcdMemberSpec {
    const files = etcdFiles(this.init.stateDir)
    return {
      name: this.init.nodeId,
      dataDir: files.dataDir,
      address: this.init.address,
      clientPort: this.init.etcd.clientPort,
      peerPort: this.init.etcd.peerPort,
      initialCluster: parseInitialCluster(s.initialCluster),
      initialClusterState: s.initialClusterState,
      initialClusterToken: s.token,
      tls: files.tls,
      heartbeatMs: this.init.etcd.heartbeatMs,
      electionTimeoutMs: this.init.etcd.electionTimeoutMs,
    }
  }

  private async startProcess(s: LocalEtcdState): Promise<void> {
    await this.halt()
    const files = etcdFiles(this.init.stateDir)
    const proc = new EtcdProcess(
      {
        spec: this.spec(s),
        binary: etcdProgram('etcd', this.init.etcd.binDir ?? etcdBinDir()),
        pidFile: files.pidFile,
        stopGraceMs,
      },
      { logger: this.c.log, clock: this.c.clock },
    )
    proc.onExit((exit, willRestart) => {
      // etcd says so itself when the cluster removed it: check with the others at once.
      if (willRestart && exit.lastLines.some((l) => l.includes('permanently removed')))
        void this.checkMembership(false)
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
    const files = etcdFiles(this.init.stateDir).client
    try {
      const [caPem, certPem, keyPem] = await Promise.all([
        readFile(files.caFile, 'utf8'),
        readFile(files.certFile, 'utf8'),
        readFile(files.keyFile, 'utf8'),
      ])
      this.tls = { caPem, certPem, keyPem }
    } catch {
      this.tls = null
    }
  }

  private async pollStatus(): Promise<void> {
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
