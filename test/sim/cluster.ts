import { createPrivateKey, createPublicKey } from 'node:crypto'
import { type Random, seededRandom } from '../../agent/core/random.js'
import { clientUrlOf, peerUrlOf } from '../../agent/etcd/spec.js'
import { nodeIdFromPublicKey } from '../../agent/identity/identity.js'
import type { NodeRecordBody, Role } from '../../agent/mesh/record.js'
import type { MemberState } from '../../agent/mesh/swim/types.js'
import { COORDINATOR_ELECTION, type PlacementSigner } from '../../control/coordinator/placement-record.js'
import { PlacementPolicy } from '../../control/placement/policy.js'
import { ControlPart } from './control-part.js'
import { DrainPart } from './drain-part.js'
import { EtcdStandIn } from './etcd/standin.js'
import { DEFAULT_NETWORK, type NetworkOptions, SimNetwork } from './network.js'
import { Scheduler } from './scheduler.js'
import { defaultSwimEnv, SwimNode } from './swim-node.js'

export interface ClusterOptions {
  nodes: number
  seed: number
  net?: Partial<NetworkOptions>
  /** A dead etcd member is replaced after this long (the agent's default is 30 s). */
  failoverGraceMs?: number
  /** Nodes take the cluster lock now and then (to check one disruption at a time). */
  drains?: boolean
}

export interface SimAgent {
  index: number
  id: string
  node: SwimNode
  control: ControlPart
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** A node identity from the seed: the same ids, keys and signatures on every run. */
export function simIdentity(random: Random): PlacementSigner {
  const seed = Buffer.alloc(32)
  for (let i = 0; i < 32; i++) seed[i] = Math.floor(random.next() * 256)
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const publicKey = Buffer.from(spki.subarray(spki.length - 32))
  return { id: nodeIdFromPublicKey(publicKey), publicKey, privateKey }
}

/**
 * A whole cluster in one process: every agent's membership (SWIM, links), coordinator
 * seat, reconciler and placement, its etcd member's retire check, and the cluster lock,
 * all production code, on one simulated network and one etcd stand-in, from one seed.
 * It records what the invariants need: etcd membership changes with who made them, data
 * wipes, lock holders' steps, and every node's view.
 */
export class SimCluster {
  readonly sched = new Scheduler()
  readonly random: Random
  readonly net: SimNetwork
  readonly etcd: EtcdStandIn
  readonly agents: SimAgent[] = []
  readonly byId = new Map<string, SimAgent>()
  readonly wipes: { atMs: number; nodeId: string; memberId: bigint; stillListed: boolean }[] = []
  readonly drains: DrainPart
  /** The agent version each node announces (the rollout simulator sets it at each boot). */
  readonly versions: string[] = []
  /** Told when a node's control plane starts and when it crashes (the rollout simulator). */
  readonly hooks: { started(a: SimAgent): void; crashed(a: SimAgent): void }[] = []

  constructor(readonly opts: ClusterOptions) {
    this.random = seededRandom(opts.seed)
    this.net = new SimNetwork(this.sched, seededRandom(opts.seed + 1), { ...DEFAULT_NETWORK, ...opts.net })
    const byAddress = new Map<string, string>()
    this.etcd = new EtcdStandIn(
      {
        sched: this.sched,
        etcdRunning: (id) => {
          const a = this.byId.get(id)
          return !!a && a.node.isUp() && a.control.etcdRunning
        },
        reachable: (a, b) => this.net.reachable(a, b),
        nodeOfPeerUrl: (u) => byAddress.get(new URL(u).hostname) ?? '',
        clientUrlOfNode: (id) => clientUrlOf(this.byId.get(id)?.node.address ?? ''),
      },
      COORDINATOR_ELECTION,
    )
    const policy = PlacementPolicy.parse({ failoverGraceMs: opts.failoverGraceMs ?? 10_000 })
    const ids = Array.from({ length: opts.nodes }, () => simIdentity(this.random))
    const boot = ids.slice(0, 3).map((x) => x.id)
    ids.forEach((identity, index) => {
      const address = `10.77.${Math.floor(index / 250)}.${(index % 250) + 1}`
      byAddress.set(address, identity.id)
      const control = new ControlPart(identity.id, {
        etcd: this.etcd,
        policy,
        identity,
        address,
        body: (roles) => recordBody(identity, index, address, roles, this.versions[index] ?? '0.1.0'),
        random: seededRandom(opts.seed * 31 + index),
        onWipe: (nodeId, memberId) => this.wiped(nodeId, memberId),
        reconcileMs: 1500,
        leaseTtlSeconds: 5,
        onStarted: () => {
          for (const h of this.hooks) h.started(this.agents[index]!)
        },
        onCrashed: () => {
          for (const h of this.hooks) h.crashed(this.agents[index]!)
        },
      })
      const node = new SwimNode(identity.id, this.swimEnv(boot), control, address)
      const agent = { index, id: identity.id, node, control }
      this.agents.push(agent)
      this.byId.set(identity.id, agent)
    })
    const founder = this.agents[0]!
    founder.control.found(
      this.etcd.found(founder.id, peerUrlOf(founder.node.address), clientUrlOf(founder.node.address)),
    )
    this.drains = new DrainPart(this, seededRandom(opts.seed + 2), opts.drains ?? true)
  }

  private swimEnv(boot: string[]) {
    return defaultSwimEnv(this.sched, this.net, this.opts.seed, boot)
  }

  get now(): number {
    return this.sched.now
  }

  async run(ms: number): Promise<void> {
    await this.sched.runUntilAsync(this.now + ms)
  }

  /** Run until `pred` holds (checked every `stepMs`) or `maxMs` passes: the time taken, or null. */
  async runUntil(pred: () => boolean, maxMs: number, stepMs = 250): Promise<number | null> {
    const start = this.now
    while (this.now - start < maxMs) {
      if (pred()) return this.now - start
      await this.run(stepMs)
    }
    return pred() ? this.now - start : null
  }

  startAll(spreadMs = 1000): void {
    for (const [i, a] of this.agents.entries())
      this.sched.at(this.now + (spreadMs * i) / this.agents.length, () => a.node.start())
  }

  up(): SimAgent[] {
    return this.agents.filter((a) => a.node.isUp())
  }

  view(a: SimAgent): Map<string, MemberState> {
    const out = new Map<string, MemberState>()
    for (const m of a.node.liveness?.swim.members() ?? []) out.set(m.id, m.state)
    return out
  }

  /** Every up node sees every up node alive and no down node alive or suspect. */
  viewsConverged(): boolean {
    const up = new Set(this.up().map((a) => a.id))
    return this.up().every((o) => {
      const v = this.view(o)
      return this.agents.every((a) => {
        if (a === o) return true
        const s = v.get(a.id)
        return up.has(a.id) ? s === 'alive' : s !== 'alive' && s !== 'suspect'
      })
    })
  }

  private wiped(nodeId: string, memberId: bigint): void {
    this.wipes.push({ atMs: this.now, nodeId, memberId, stillListed: this.etcd.state.members.has(memberId) })
  }
}

/**
 * What each simulated node is, by index (cycling): Raspberry Pis with NVMe (etcd's
 * preferred boards), x86 laptops (its fallback while fewer than three Pis can hold a
 * vote) and a Pi netbooted without a state disk (never a seat). Node 0, the founder, is
 * a Pi; 4 nodes are two Pis and two laptops, so the fallback is in play from the start.
 */
export const SIM_BOARDS = ['pi', 'pi', 'laptop', 'laptop', 'pi', 'pi-ram', 'laptop', 'pi'] as const
export type SimBoard = (typeof SIM_BOARDS)[number]

export function simBoard(index: number): SimBoard {
  return SIM_BOARDS[index % SIM_BOARDS.length]!
}

function simFacts(index: number): NodeRecordBody['facts'] {
  const memoryMB = 4096 + 1024 * (index % 4)
  switch (simBoard(index)) {
    case 'laptop':
      return {
        arch: 'amd64',
        board: 'ThinkPad T480',
        cpuModel: 'Core i5-8250U',
        cores: 8,
        memoryMB: 2 * memoryMB,
        storageClass: 'ssd',
        fsyncP99Ms: 3,
        macs: [],
      }
    case 'pi-ram':
      return {
        arch: 'arm64',
        board: 'Raspberry Pi 5',
        cpuModel: 'Cortex-A76',
        cores: 4,
        memoryMB,
        storageClass: 'unknown',
        fsyncP99Ms: 0.02,
        macs: [],
        ramOnly: true,
      }
    default:
      return {
        arch: 'arm64',
        board: 'Raspberry Pi 5',
        cpuModel: 'Cortex-A76',
        cores: 4,
        memoryMB,
        storageClass: 'nvme',
        fsyncP99Ms: 2,
        macs: [],
      }
  }
}

function recordBody(
  identity: PlacementSigner,
  index: number,
  address: string,
  roles: Role[],
  version: string,
): NodeRecordBody {
  return {
    v: 1,
    cluster: '0123456789abcdef',
    id: identity.id,
    publicKey: identity.publicKey.toString('hex'),
    name: `n${index}`,
    addresses: [address],
    ports: { api: 7080, tls: 7443, dht: 49737 },
    facts: simFacts(index),
    version,
    roles,
    incarnation: 0,
    heartbeat: 0,
    startedAtMs: 0,
  }
}
