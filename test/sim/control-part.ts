import { membershipVerdict, retireDecision } from '../../agent/controlplane/member-queries.js'
import { CoordinatorSeat } from '../../agent/controlplane/seat.js'
import type { Clock } from '../../agent/core/clock.js'
import { silentLogger } from '../../agent/core/log.js'
import type { Random } from '../../agent/core/random.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { idHex } from '../../agent/etcd/model/ids.js'
import { peerUrlOf } from '../../agent/etcd/spec.js'
import type { NodeRecordBody, Role } from '../../agent/mesh/record.js'
import { type ObservedNode, observedNode } from '../../control/coordinator/observe.js'
import { COORDINATOR_ELECTION, type PlacementSigner } from '../../control/coordinator/placement-record.js'
import { Coordinator, type CoordinatorEtcd } from '../../control/coordinator/reconciler.js'
import type { PlacementPolicy } from '../../control/placement/policy.js'
import { SimEtcdClient } from './etcd/client.js'
import type { EtcdStandIn } from './etcd/standin.js'
import type { ControlMessage, NodeExtension, SwimNode } from './swim-node.js'

// One simulated agent's control plane, built from the production parts: the coordinator
// seat (etcd election, lease keeper), the coordinator's reconciler with placement, and
// its own etcd member's "am I still a member?" check (membershipVerdict, retireDecision)
// that decides whether to wipe. Only the adapters differ: the etcd client is the
// stand-in's, control messages ride the simulated links.

export interface ControlEnv {
  etcd: EtcdStandIn
  policy: PlacementPolicy
  /** Every node's identity (the placement record is signed and checked as in the agent). */
  identity: PlacementSigner
  address: string
  body(roles: Role[]): NodeRecordBody
  random: Random
  /** Told when this node wipes its etcd data (the invariants check etcd no longer lists it). */
  onWipe(nodeId: string, memberId: bigint): void
  reconcileMs: number
  leaseTtlSeconds: number
  /** Told after the process started its control plane, and as it crashes (the rollout simulator). */
  onStarted?(): void
  onCrashed?(): void
}

type Msg = ControlMessage & ({ t: 'ctl-assign'; memberId: string } | { t: 'ctl-retire'; memberId: string })

/** Control-plane state that survives a restart (the agent keeps it in its state directory). */
interface Persisted {
  memberId: bigint | null
}

const CHECK_MS = 5000
const STRIKES_TO_RETIRE = 2
/** A link to a node we must hand an assignment is held this long. */
const ASSIGN_PIN_MS = 30_000

export class ControlPart implements NodeExtension {
  private readonly persisted: Persisted = { memberId: null }
  private node: SwimNode | null = null
  private client: SimEtcdClient | null = null
  private generation = 0
  private seat: CoordinatorSeat | null = null
  private coordinator: Coordinator | null = null
  private strikes = 0
  private told = false
  private running = false

  constructor(
    readonly nodeId: string,
    private readonly env: ControlEnv,
  ) {}

  /** The node runs its etcd member now. */
  get etcdRunning(): boolean {
    return this.running && this.persisted.memberId !== null
  }

  get memberId(): bigint | null {
    return this.persisted.memberId
  }

  /** This node's etcd client while its etcd member runs (what the agent's control plane hands out). */
  etcdClient(): SimEtcdClient | null {
    return this.etcdRunning ? this.client : null
  }

  isLeader(): boolean {
    return this.seat?.isLeader() ?? false
  }

  /** The founder's first member, as `homecloud init` creates it. */
  found(memberId: bigint): void {
    this.persisted.memberId = memberId
  }

  body(): NodeRecordBody {
    return this.env.body(this.roles())
  }

  private roles(): Role[] {
    const m =
      this.persisted.memberId === null ? undefined : this.env.etcd.state.members.get(this.persisted.memberId)
    const etcd: Role[] = m ? [m.isLearner ? 'etcd-learner' : 'etcd-voter'] : []
    return ['worker', ...etcd, ...(this.isLeader() ? (['coordinator'] as const) : [])]
  }

  started(node: SwimNode): void {
    this.node = node
    this.running = true
    const clock = node.proc.clock()
    this.client = new SimEtcdClient(this.env.etcd, this.nodeId, node.proc)
    this.generation++
    const log = silentLogger()
    this.seat = new CoordinatorSeat(
      { election: COORDINATOR_ELECTION, nodeId: this.nodeId, ttlSeconds: this.env.leaseTtlSeconds },
      {
        clock,
        log,
        random: this.env.random,
        isVoter: () => this.isVoter(),
        client: () => (this.etcdRunning ? (this.client as unknown as EtcdClient) : null),
        generation: () => this.generation,
        onChange: () => node.announce(),
      },
    )
    this.coordinator = this.makeCoordinator(clock)
    this.seat.start()
    this.coordinator.start()
    this.scheduleCheck(clock)
    this.env.onStarted?.()
  }

  crashed(): void {
    this.env.onCrashed?.()
    this.running = false
    this.seat = null
    this.coordinator = null
    this.client = null
    this.node = null
  }

  receive(_from: string, msg: ControlMessage): void {
    const m = msg as Msg
    const memberId = BigInt(`0x${m.memberId}`)
    if (m.t === 'ctl-assign') this.assigned(memberId)
    else if (memberId === this.persisted.memberId) {
      this.told = true
      void this.check()
    }
  }

  private isVoter(): boolean {
    const id = this.persisted.memberId
    const m = id === null ? undefined : this.env.etcd.state.members.get(id)
    return this.etcdRunning && m !== undefined && !m.isLearner
  }

  private makeCoordinator(clock: Clock): Coordinator {
    return new Coordinator(
      {
        selfId: this.nodeId,
        signer: this.env.identity,
        policy: this.env.policy,
        reconcileMs: this.env.reconcileMs,
        peerUrlOf: (a) => peerUrlOf(a),
      },
      {
        etcd: this.client as unknown as CoordinatorEtcd,
        leadership: {
          isLeader: () => this.seat?.isLeader() ?? false,
          leaderKey: () => this.seat?.leaderKey(),
        },
        clock,
        random: this.env.random,
        log: silentLogger(),
        nodes: () => this.observed(clock),
        assign: async (id, memberId) => this.send(id, { t: 'ctl-assign', memberId: idHex(memberId) }),
        retire: (id, memberId) => {
          this.send(id, { t: 'ctl-retire', memberId: idHex(memberId) })
        },
      },
    )
  }

  /** The mesh view as the coordinator reads it, this node included. */
  private observed(clock: Clock): ObservedNode[] {
    const live = this.node?.liveness
    if (!live) return []
    const out = [observedNode(this.body(), 'alive', clock.nowMs())]
    const mono = clock.monoMs()
    for (const m of live.swim.members()) {
      if (!m.record.body) continue
      out.push(observedNode(m.record.body, m.state, clock.nowMs() - (mono - m.stateSinceMono)))
    }
    return out
  }

  /** A control message over a link, pinning one if there is none yet (the sender retries). */
  private send(to: string, msg: Msg): boolean {
    if (!this.node) return false
    if (to === this.nodeId) {
      this.receive(to, msg)
      return true
    }
    this.node.liveness?.pin(to, ASSIGN_PIN_MS)
    return this.node.sendControl(to, msg)
  }

  /** An assignment: remember the member and start etcd with it (it joins if etcd still lists it). */
  private assigned(memberId: bigint): void {
    if (this.persisted.memberId === memberId) return
    this.persisted.memberId = memberId
    this.generation++
    this.strikes = 0
    this.env.etcd.markStarted(memberId)
    this.node?.announce()
  }

  private scheduleCheck(clock: Clock): void {
    clock.setTimeout(() => {
      void this.check().finally(() => {
        if (this.running) this.scheduleCheck(clock)
      })
    }, CHECK_MS)
  }

  /** Ask the other members whether we are still one (never our own: it may be a zombie). */
  private async check(): Promise<void> {
    const id = this.persisted.memberId
    const client = this.client
    if (id === null || !client) return
    const told = this.told
    this.told = false
    const answers = await client.askOthers(id)
    const d = retireDecision(membershipVerdict(answers), this.strikes, told, STRIKES_TO_RETIRE)
    this.strikes = d.strikes
    if (!d.retire || this.persisted.memberId !== id) return
    this.env.onWipe(this.nodeId, id)
    this.persisted.memberId = null
    this.generation++
    this.node?.announce()
  }
}
