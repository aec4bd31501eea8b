import pino from 'pino'
import type { Clock } from '../../agent/core/clock.js'
import { silentLogger } from '../../agent/core/log.js'
import { seededRandom } from '../../agent/core/random.js'
import type { CaMaterial } from '../../agent/pki/ca.js'
import { signCaRecord } from '../../control/releases/records.js'
import type { MeshNode, SlotsRead } from '../../control/rollout/observe.js'
import { RolloutController, type RolloutEtcd } from '../../control/rollout/reconciler.js'
import { newRollout, ROLLOUT_KEY, RolloutBody, type TargetRelease } from '../../control/rollout/record.js'
import type { RolloutPolicy } from '../../control/rollout/types.js'
import { type SimAgent, type SimCluster, simBoard } from './cluster.js'
import { contentOf, SimMachine } from './rollout-machine.js'

// The rollout in the whole-cluster simulator: every node with a control plane runs the
// production RolloutController (control/rollout/reconciler.ts: observe → nextRolloutStep
// → apply, the take-over of a former coordinator's lock, the production cluster lock over
// the etcd stand-in), acting only while it coordinates, as in the agent. What differs are
// the adapters: the mesh it reads is its SWIM view, slot reports and CA-signed orders go
// to simulated machines (rollout-machine.ts), and no Kubernetes runs (no drain, no Node).
// It records what the invariants need: every order with who sent it and what held the
// lock, every reboot, every boot.

export const SIM_CLUSTER_ID = 'simcluster'
const EVERY_MS = 1000
const STOP_WAIT_MS = 2000

/** Short timings so a rollout of eight nodes fits in simulated minutes. */
export const SIM_ROLLOUT_POLICY: RolloutPolicy = {
  triesPerBoot: 3,
  gateTimeoutMs: 60_000,
  drainTimeoutMs: 60_000,
  leaderStableMs: 5_000,
  nodeGoneMs: 30_000,
  resendMs: 5_000,
}

export interface OrderSent {
  atMs: number
  by: string
  node: string
  action: string
  release: string | null
  /** The sender held a valid lock naming that node. */
  locked: boolean
  /** Other lock holders valid at that moment (must be none). */
  overlapping: string[]
  /** Target is an etcd voter and some other voter was down or not running etcd then. */
  votersDown: string[]
  /** The record marked a release bad on another node before this order. */
  afterFailureOn: string | null
}

export interface Outage {
  node: string
  fromMs: number
  toMs: number | null
  /** The coordinator's own upgrade: it ordered its own reboot (and let the lock go as it stopped). */
  own: boolean
}

export class RolloutPart {
  readonly machines = new Map<string, SimMachine>()
  readonly orders: OrderSent[] = []
  /** A node down for a reboot an order asked for, until its agent runs again. */
  readonly outages: Outage[] = []
  readonly setCurrent: { atMs: number; arch: string; version: string }[] = []
  /** Power cuts by the fault schedule (node ids, when). */
  readonly powerCuts: { node: string; atMs: number }[] = []
  /**
   * The record let its node in progress go without an outcome: it stayed away `nodeGoneMs`
   * (the rule: its lease is up, the lock is freed, it is upgraded when back).
   */
  readonly deferred: { node: string; atMs: number }[] = []
  /** Nodes revoked by the fault schedule (gone for good). */
  readonly revoked = new Set<string>()
  private lastCurrent: string | null = null
  private readonly controllers = new Map<string, RolloutController>()
  readonly bad = new Set<string>()

  constructor(
    private readonly c: SimCluster,
    private readonly ca: CaMaterial,
    readonly from: Record<'amd64' | 'arm64', TargetRelease>,
  ) {
    for (const a of c.agents) {
      const arch = simBoard(a.index) === 'laptop' ? 'amd64' : 'arm64'
      const m = new SimMachine(a, contentOf(from[arch]), {
        cluster: c,
        random: seededRandom(c.opts.seed * 17 + a.index),
        caPem: ca.certPem,
        clusterId: SIM_CLUSTER_ID,
        arch,
        bad: this.bad,
        onRebooting: (x) => {
          const asked = this.orders.findLast((o) => o.node === x.id && o.action === 'reboot')
          this.outages.push({ node: x.id, fromMs: c.now, toMs: null, own: asked?.by === x.id })
          this.note(`n${x.index} reboots`)
        },
        onBooted: (x) => this.booted(x),
        stopAgent: (x) => this.stopAgent(x),
      })
      this.machines.set(a.id, m)
      c.versions[a.index] = from[arch].version
    }
    c.hooks.push({ started: (a) => this.started(a), crashed: (a) => this.controllers.delete(a.id) })
    c.etcd.state.onPut = (key, value) => {
      if (key === ROLLOUT_KEY) this.recorded(value)
    }
    c.drains.otherHolders = () => this.validHolders(null)
  }

  machine(a: SimAgent): SimMachine {
    return this.machines.get(a.id) as SimMachine
  }

  /** The admin starts a rollout (as `homecloud upgrade start` writes it through a signer). */
  start(target: Record<'amd64' | 'arm64', TargetRelease>, bad: boolean): void {
    if (bad) for (const t of Object.values(target)) this.bad.add(t.id)
    const body = newRollout(null, {
      clusterId: SIM_CLUSTER_ID,
      target: { version: target.amd64.version, releases: target },
      canary: 1,
      nowMs: Math.floor(this.c.agents[0]!.node.proc.clock().nowMs()),
      retryBad: false,
    })
    this.c.etcd.state.put(ROLLOUT_KEY, signCaRecord('rollout', RolloutBody.parse(body), this.ca.keyPem))
  }

  /** The record as etcd holds it now (read without a client: the invariants' view). */
  record(): RolloutBody | null {
    const kv = this.c.etcd.state.get(ROLLOUT_KEY)
    return kv ? RolloutBody.parse((JSON.parse(kv.value) as { body: unknown }).body) : null
  }

  /** Lock holders valid now: drain holders and coordinators holding the rollout's lock. */
  validHolders(except: string | null): string[] {
    const rollout = [...this.controllers]
      // A controller that lost its seat does not act (it only lets its lock go): a lock broken
      // by the next coordinator's take-over may still look valid to it until its keeper hears.
      .filter(
        ([id, ctl]) =>
          id !== except && ctl.heldLock()?.isValid() === true && this.c.byId.get(id)?.control.isLeader(),
      )
      .map(([id, ctl]) => `rollout:n${this.c.byId.get(id)?.index}:${ctl.heldLock()?.token}`)
    return except === null ? rollout : [...rollout, ...this.c.drains.validHolders()]
  }

  /** What happened, in order (printed when one seed is replayed). */
  readonly trace: string[] = []

  note(what: string): void {
    const lock = this.c.etcd.state.get('/homecloud/lock')
    const holder = lock ? (JSON.parse(lock.value) as { holder: string; node: string }) : null
    const who = (id: string | undefined) => (id ? `n${this.c.byId.get(id)?.index}` : '-')
    const lockText = holder
      ? `${holder.holder.replace(/[0-9a-f]{20,}/, (x) => who(x))}→${holder.node}`
      : 'free'
    this.trace.push(
      `${(this.c.now / 1000).toFixed(2)}s ${what} [coordinator ${who(this.c.etcd.leaderNode() ?? undefined)}, lock ${lockText}]`,
    )
  }

  /** Follows the record's node in progress: one let go without an outcome was deferred. */
  private recorded(value: string): void {
    const body = RolloutBody.parse((JSON.parse(value) as { body: unknown }).body)
    const was = this.lastCurrent
    this.lastCurrent = body.current?.node ?? null
    if (was !== null && this.lastCurrent !== was && !body.nodes[was]) {
      this.deferred.push({ node: was, atMs: this.c.now })
      this.note(`n${this.c.byId.get(was)?.index} deferred: ${body.waiting ?? ''}`)
    }
  }

  /** A power cut ends a rollout reboot's outage: the machine is down by the fault from then on. */
  cut(a: SimAgent): void {
    this.powerCuts.push({ node: a.id, atMs: this.c.now })
    const open = this.outages.find((o) => o.node === a.id && o.toMs === null)
    if (open) open.toMs = this.c.now
  }

  private booted(a: SimAgent): void {
    this.note(`n${a.index} booted ${this.c.versions[a.index]}`)
    const open = this.outages.find((o) => o.node === a.id && o.toMs === null)
    if (open) open.toMs = this.c.now
  }

  private started(a: SimAgent): void {
    const clock = a.node.proc.clock()
    const ctl: RolloutController = new RolloutController(
      { selfId: a.id, clusterId: SIM_CLUSTER_ID, policy: SIM_ROLLOUT_POLICY, everyMs: EVERY_MS },
      {
        clock,
        log: process.env.HOMECLOUD_SIM_TRACE_LOG ? this.traceLog(a) : silentLogger(),
        random: seededRandom(this.c.opts.seed * 13 + a.index * 101 + Math.floor(this.c.now)),
        isLeader: () => a.control.isLeader(),
        etcd: () => a.control.etcdClient() as unknown as RolloutEtcd | null,
        caPem: () => this.ca.certPem,
        caKeyPem: () => this.ca.keyPem,
        mesh: () => this.mesh(a, clock),
        readSlots: async (m) => this.readSlots(a, m),
        sendOrder: async (m, signed): Promise<void> => this.sendOrder(a, ctl, m, signed),
        kube: async () => null,
        setCurrent: async (arch, t) => {
          this.setCurrent.push({ atMs: this.c.now, arch, version: t.version })
        },
        whyNotMember: (id) => (this.revoked.has(id) ? 'revoked' : null),
      },
    )
    this.controllers.set(a.id, ctl)
    ctl.start()
  }

  /** Warnings of node `a`'s controller into the trace (HOMECLOUD_SIM_TRACE_LOG=1: what a pass failed on). */
  private traceLog(a: SimAgent) {
    return pino(
      { level: 'info' },
      { write: (line: string) => this.note(`n${a.index} log: ${line.trim().slice(0, 300)}`) },
    )
  }

  /** A deliberate reboot: the agent stops its rollout controller (bounded), as a clean shutdown does. */
  private async stopAgent(a: SimAgent): Promise<void> {
    const ctl = this.controllers.get(a.id)
    if (!ctl) return
    this.controllers.delete(a.id)
    const clock = a.node.proc.clock()
    await Promise.race([ctl.stop(), new Promise<void>((r) => clock.setTimeout(r, STOP_WAIT_MS))])
  }

  /** The mesh as node `a` sees it (agent/components/rollout-deps.ts meshNodes, over the SWIM view). */
  private mesh(a: SimAgent, clock: Clock): MeshNode[] {
    const self = a.control.body()
    const out: MeshNode[] = [
      {
        id: a.id,
        name: self.name,
        alive: true,
        deadSinceMs: null,
        voter: self.roles.includes('etcd-voter'),
        version: self.version,
        startedAtMs: null,
      },
    ]
    const mono = clock.monoMs()
    for (const m of a.node.liveness?.swim.members() ?? []) {
      const b = m.record.body
      if (!b || b.id === a.id) continue
      const alive = m.state !== 'dead'
      out.push({
        id: b.id,
        name: b.name,
        alive,
        deadSinceMs: alive ? null : clock.nowMs() - (mono - m.stateSinceMono),
        voter: b.roles.includes('etcd-voter'),
        version: b.version,
        startedAtMs: null,
      })
    }
    return out
  }

  /** GET /api/v1/slots over 7443: answered only by a running agent we can reach. */
  private readSlots(a: SimAgent, m: MeshNode): SlotsRead {
    const x = this.c.byId.get(m.id)
    if (!x?.node.isUp() || x.node.proc.isPaused || !this.c.net.reachable(a.id, x.id))
      return { slots: null, error: 'unreachable' }
    return { slots: this.machine(x).report(), error: null }
  }

  private sendOrder(a: SimAgent, ctl: RolloutController, m: MeshNode, signed: string): void {
    const x = this.c.byId.get(m.id)
    if (!x?.node.isUp() || !this.c.net.reachable(a.id, x.id)) throw new Error(`${m.name} unreachable`)
    const body = (JSON.parse(signed) as { body: { action: string; release?: { version: string } } }).body
    const held = ctl.heldLock()
    const r = this.record()
    const failed = r?.bad[0]
    this.orders.push({
      atMs: this.c.now,
      by: a.id,
      node: x.id,
      action: body.action,
      release: body.release?.version ?? null,
      locked: held?.isValid() === true && held.record.node === m.name,
      overlapping: this.validHolders(a.id),
      votersDown: this.votersDown(x),
      afterFailureOn: failed && failed.node !== m.name ? failed.node : null,
    })
    this.note(`n${a.index} orders ${body.action} to ${m.name}`)
    if (!this.machine(x).order(signed)) throw new Error(`${m.name} refused the order`)
  }

  /** For a voter: the other voters not up with etcd running. */
  private votersDown(x: SimAgent): string[] {
    const voters = this.c.etcd.state.voters()
    if (!voters.some((v) => v.nodeId === x.id)) return []
    return voters
      .filter((v) => v.nodeId !== x.id)
      .filter((v) => {
        const o = this.c.byId.get(v.nodeId)
        return !o?.node.isUp() || !o.control.etcdRunning
      })
      .map((v) => `n${this.c.byId.get(v.nodeId)?.index}`)
  }
}
