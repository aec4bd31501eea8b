import type { Clock } from '../../agent/core/clock.js'
import { Controller } from '../../agent/core/controller.js'
import type { Counters } from '../../agent/core/counters.js'
import { HomecloudError } from '../../agent/core/errors.js'
import type { EventLog } from '../../agent/core/event-log.js'
import type { Logger } from '../../agent/core/log.js'
import { type Random, systemRandom } from '../../agent/core/random.js'
import type { MemberList } from '../../agent/etcd/model/members.js'
import type { EndpointHealth, EndpointStatus } from '../../agent/etcd/model/types.js'
import { signSlotOrder } from '../../agent/slots/order.js'
import { PLACEMENT_KEY, parsePlacementRecord } from '../coordinator/placement-record.js'
import { drainNode, undrainNode } from '../drain/execute.js'
import { acquireLock, breakLock, type HeldLock, type LockEtcd, readLock } from '../lock/cluster-lock.js'
import type { RolloutKube } from './kube.js'
import { LeaderWatch, type MeshNode, observeNodes, type SlotsRead, StepWatch, ViewWatch } from './observe.js'
import { isActive, type RolloutBody, type TargetRelease } from './record.js'
import { nextRolloutStep } from './step.js'
import { type ReadRollout, readRollout, writeRollout } from './store.js'
import {
  type DrainJob,
  type EtcdState,
  type ObservedCluster,
  type RolloutEffect,
  type RolloutPolicy,
  rolloutLockHolder,
} from './types.js'

// The rollout on the coordinator: a controller with one key (`rollout`), each pass
// observe → nextRolloutStep → apply the effects in order, stopping at the first that
// fails (the next pass observes again). Only the coordinator acts (mayAct: it holds the
// election lease). What a new coordinator needs is in the record; what this one keeps
// in memory — the lock it holds, a drain running in the background, how long the etcd
// leader has been stable — is rebuilt by observation.

export interface RolloutEtcd extends LockEtcd {
  memberList(): Promise<MemberList>
  health(endpoint: string, timeoutMs?: number): Promise<EndpointHealth>
  status(endpoint: string, timeoutMs?: number): Promise<EndpointStatus>
}

export interface RolloutShellInit {
  selfId: string
  clusterId: string
  policy: RolloutPolicy
  everyMs: number
}

export interface RolloutShellComponents {
  clock: Clock
  log: Logger
  random?: Random
  counters?: Counters
  events?: EventLog
  isLeader(): boolean
  etcd(): RolloutEtcd | null
  caPem(): string | null
  caKeyPem(): string | null
  /** Every node the mesh knows, this one included. */
  mesh(): MeshNode[]
  readSlots(n: MeshNode): Promise<SlotsRead>
  sendOrder(n: MeshNode, signed: string): Promise<void>
  /** Kubernetes with admin rights (null: this cluster runs none, or not yet). */
  kube(): Promise<RolloutKube | null>
  setCurrent(arch: 'amd64' | 'arm64', release: TargetRelease): Promise<void>
  /** Why a node is no longer a member (revoked), or null while it is one (absent: nobody leaves). */
  whyNotMember?(nodeId: string): string | null
}

export class RolloutController {
  private readonly ctl: Controller
  private held: HeldLock | null = null
  private drain: DrainJob | null = null
  private readonly leader = new LeaderWatch()
  private readonly view = new ViewWatch()
  private readonly step = new StepWatch()
  private seenVersion = 0
  /** The record as last read (the status view of this node shows it). */
  last: RolloutBody | null = null

  constructor(
    private readonly init: RolloutShellInit,
    private readonly c: RolloutShellComponents,
  ) {
    this.ctl = new Controller(
      {
        name: 'rollout',
        keys: () => ['rollout'],
        resyncMs: init.everyMs,
        syncAtStart: false,
        // A node that lost the seat still runs once more while it holds the lock: to let it go.
        mayAct: () => c.isLeader() || this.held !== null,
        backoff: { initialDelayMs: init.everyMs, factor: 1, delayMsMax: init.everyMs, jitter: 0 },
        sync: async () => {
          await this.pass()
        },
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log, counters: c.counters },
    )
  }

  start(): void {
    this.ctl.start()
  }

  /** Look again now (an admin changed the record). */
  poke(): void {
    this.ctl.add('rollout')
  }

  /**
   * Lets the lock key go: a stopped agent renews no lease, so keeping the key would only
   * make the next coordinator wait out its TTL or take it over. The node in progress stays
   * held through the record (the rollout's hold: every other taker is refused), and
   * `upgrade status` says so (control/lock/view.ts).
   */
  async stop(): Promise<void> {
    await this.ctl.stop()
    await this.held?.release()
    this.held = null
  }

  /** The cluster lock this controller holds now, if any (the simulator checks one holder at a time). */
  heldLock(): HeldLock | null {
    return this.held
  }

  private get holder(): string {
    return rolloutLockHolder(this.init.selfId)
  }

  /** One observe → decide → apply. */
  async pass(): Promise<void> {
    // Only the coordinator keeps the rollout's lock: one that lost its seat (its election
    // lease lapsed under load) lets it go at once, or its lock keeper would renew the lease
    // for ever and the next coordinator would wait on it.
    if (!this.c.isLeader()) {
      await this.releaseLock()
      return
    }
    const etcd = this.c.etcd()
    const caPem = this.c.caPem()
    if (!etcd || !caPem) return
    const read = await readRollout(etcd, {
      caPem,
      clusterId: this.init.clusterId,
      seenVersion: this.seenVersion,
    })
    this.last = read.body
    this.seenVersion = Math.max(this.seenVersion, read.body?.version ?? 0)
    if (!isActive(read.body)) {
      await this.releaseLock()
      return
    }
    const observed = await this.observe(etcd)
    const ids = [...observed.nodes.map((n) => n.id), ...(read.body?.current ? [read.body.current.node] : [])]
    const left = Object.fromEntries(
      ids.flatMap((id) => {
        const why = this.c.whyNotMember?.(id) ?? null
        return why ? [[id, why]] : []
      }),
    )
    // By name: a netbooted machine back under a new id (successors) is no node new to the view.
    const viewAgeMs = this.view.ageMs(
      observed.nodes.map((n) => n.name),
      this.c.clock.monoMs(),
    )
    const stepAgeMs = this.step.ageMs(read.body?.current ?? null, this.c.clock.monoMs())
    const d = nextRolloutStep(
      { ...observed, left, viewAgeMs, ...(stepAgeMs !== undefined ? { stepAgeMs } : {}) },
      read.body,
      this.init.policy,
    )
    await this.apply(d.effects, read, etcd)
  }

  private async observe(etcd: RolloutEtcd): Promise<ObservedCluster> {
    const nowMs = this.c.clock.nowMs()
    const kube = await this.c.kube()
    const { state, healthy } = await this.etcdState(etcd, nowMs)
    const nodes = await observeNodes(this.c.mesh(), {
      selfId: this.init.selfId,
      readSlots: (n) => this.c.readSlots(n),
      kube,
      etcdHealthy: (id) => healthy.has(id),
    })
    const lock = await readLock(etcd)
    const ours = lock?.record?.holder === this.holder && this.held?.isValid() === true
    if (!ours && this.held) await this.releaseLock()
    return {
      nowMs,
      nodes,
      etcd: state,
      lock: {
        state: !lock ? 'free' : ours ? 'ours' : 'other',
        holder: lock?.record?.holder ?? (lock ? 'unknown' : null),
        node: lock?.record?.node ?? null,
        token: lock?.token ?? null,
      },
      drain: this.drain,
      kube: kube !== null,
    }
  }

  private async etcdState(
    etcd: RolloutEtcd,
    nowMs: number,
  ): Promise<{ state: EtcdState; healthy: Set<string> }> {
    const voters = (await etcd.memberList()).members.filter((m) => !m.isLearner)
    const healthy = new Set<string>()
    let leaderId: bigint | null = null
    await Promise.all(
      voters.map(async (m) => {
        const url = m.clientUrls[0]
        if (!url || !(await etcd.health(url, 1500)).healthy) return
        healthy.add(m.name)
        if (leaderId === null)
          leaderId = await etcd.status(url, 1500).then(
            (s) => s.leaderId,
            () => null,
          )
      }),
    )
    const leader = voters.find((m) => m.id === leaderId)?.name ?? null
    const placement = await etcd.get(PLACEMENT_KEY)
    const parsed = placement ? parsePlacementRecord(placement.value) : undefined
    return {
      healthy,
      state: {
        votersTotal: voters.length,
        votersHealthy: healthy.size,
        votersTarget: parsed?.ok ? parsed.record.target.length : voters.length,
        ...this.leader.seen(leader, nowMs),
      },
    }
  }

  private async apply(effects: RolloutEffect[], read: ReadRollout, etcd: RolloutEtcd): Promise<void> {
    let at = read
    let seq = read.body?.version ?? 0
    for (const e of effects) {
      if (!this.c.isLeader()) return
      if (e.kind === 'record') {
        const caKeyPem = this.c.caKeyPem()
        if (!caKeyPem)
          throw new HomecloudError(
            'NOT_SIGNER',
            'the coordinator holds no CA key',
            'it gets one as an etcd voter',
          )
        const w = await writeRollout(etcd, at, e.body, caKeyPem)
        if (!w.ok) return // someone wrote since we read (the admin): look again next pass
        at = { body: e.body, modRevision: w.modRevision }
        this.last = e.body
        seq = e.body.version
        this.seenVersion = Math.max(this.seenVersion, seq)
        continue
      }
      await this.effect(e, seq, etcd)
    }
  }

  private async effect(
    e: Exclude<RolloutEffect, { kind: 'record' }>,
    seq: number,
    etcd: RolloutEtcd,
  ): Promise<void> {
    switch (e.kind) {
      case 'take-over-lock':
      case 'take-lock':
        await this.releaseLock()
        if (e.kind === 'take-over-lock' && (await breakLock(etcd, e.token)))
          this.c.log.warn(
            { node: e.node, token: e.token },
            'rollout: took over the lock a previous holder kept',
          )
        this.held = await acquireLock(
          { holder: this.holder, operation: 'upgrade', node: e.node },
          { etcd, clock: this.c.clock, log: this.c.log, ...(this.c.random ? { random: this.c.random } : {}) },
        )
        return
      case 'release-lock':
        await this.releaseLock()
        return
      case 'drain':
        this.startDrain(e.node, e.timeoutMs)
        return
      case 'undrain': {
        const kube = await this.c.kube()
        if (kube)
          await undrainNode(e.node, {
            kube: kube.api,
            lock: () => this.lockForDrain(),
            progress: this.progress(e.node),
          })
        return
      }
      case 'order':
        await this.order(e, seq)
        return
      case 'set-current':
        await this.c.setCurrent(e.arch, e.release)
        return
    }
  }

  private async order(e: Extract<RolloutEffect, { kind: 'order' }>, seq: number): Promise<void> {
    const n = this.c.mesh().find((m) => m.id === e.node)
    const caKeyPem = this.c.caKeyPem()
    if (!n || !caKeyPem) return
    const signed = signSlotOrder(
      {
        v: 1,
        clusterId: this.init.clusterId,
        version: seq,
        node: n.id,
        action: e.action,
        ...(e.release ? { release: { id: e.release.id, version: e.release.version } } : {}),
        ...(e.tries ? { tries: e.tries } : {}),
        issuedAtMs: this.c.clock.nowMs(),
      },
      caKeyPem,
    )
    this.c.log.info({ node: n.name, action: e.action, order: seq }, 'rollout: slot order')
    await this.c.sendOrder(n, signed)
  }

  /**
   * The drain runs in the background (minutes); passes see it as running until it ends,
   * and its end pokes the controller (look again now, not a whole period later).
   */
  private startDrain(node: string, timeoutMs: number): void {
    if (this.drain?.node === node && this.drain.state === 'running') return
    const job: DrainJob = { node, state: 'running', detail: 'evicting pods' }
    this.drain = job
    void (async () => {
      const kube = await this.c.kube()
      if (!kube) throw new HomecloudError('KUBE_API_FAILED', 'no Kubernetes API to drain with')
      await drainNode(
        { node, dryRun: false, force: false, timeoutMs, onTimeout: 'give-up' },
        {
          kube: kube.api,
          lock: () => this.lockForDrain(),
          clock: this.c.clock,
          progress: this.progress(node),
        },
      )
      job.state = 'drained'
      this.poke()
    })().catch((err: HomecloudError) => {
      if (err.code === 'DRAIN_ALREADY_DONE') job.state = 'drained'
      else if (err.code === 'DRAIN_TIMEOUT' || err.code === 'DRAIN_UNMANAGED_PODS') {
        job.state = err.code === 'DRAIN_TIMEOUT' ? 'timeout' : 'failed'
        job.detail = err.message
      } else {
        // Transient (the API server, the lock): drop the job; the next pass drains again.
        this.c.log.warn({ node, err: err.message }, 'rollout: drain failed; trying again')
        if (this.drain === job) this.drain = null
      }
      this.poke()
    })
  }

  /** The drain library takes "the lock" for its work; the rollout already holds it across the node's steps. */
  private async lockForDrain(): Promise<HeldLock> {
    const held = this.held
    if (!held?.isValid())
      throw new HomecloudError(
        'LOCK_LOST',
        'the rollout does not hold the cluster lock',
        'the next pass takes it again',
      )
    return { ...held, record: held.record, token: held.token, release: async () => {} }
  }

  private progress(node: string): (line: string) => void {
    return (line) => {
      this.c.log.info({ node, drain: line }, 'rollout: drain')
      if (this.drain?.node === node && this.drain.state === 'running') this.drain.detail = line.slice(0, 200)
    }
  }

  private async releaseLock(): Promise<void> {
    const h = this.held
    this.held = null
    if (this.drain?.state !== 'running') this.drain = null
    await h?.release()
  }
}
