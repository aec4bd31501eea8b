import { memberNodeId } from '../../control/coordinator/observe.js'
import {
  COORDINATOR_ELECTION,
  PLACEMENT_KEY,
  type PlacementRecord,
  parsePlacementRecord,
  placementReasons,
} from '../../control/coordinator/placement-record.js'
import { majority } from '../../control/placement/next-action.js'
import type { ClusterView } from '../api/cluster-schema.js'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import type { MemberList } from '../etcd/model/members.js'
import type { EndpointHealth, EndpointStatus, KeyValue } from '../etcd/model/types.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { LocalMember } from './local-member.js'

// The control plane for the status API: from etcd when this node's member answers
// (members, raft leader, health, the coordinator's election), otherwise from the mesh
// (the roles nodes announce), so every node can say something even without quorum. A
// controller with one key reads etcd every 2 s; viewFromEtcd (pure) makes the view.

export type ControlPlaneView = ClusterView['controlPlane']

export interface ViewInput {
  body: NodeRecordBody
  state: 'alive' | 'suspect' | 'dead' | 'pending'
}

export interface ControlViewComponents {
  clock: Clock
  log: Logger
  random?: Random
  local: LocalMember
  /** This node's state directory, named in the recovery command. */
  stateDir?: string
  /** Every node the mesh knows, this one included. */
  nodes(): ViewInput[]
  peerUrlOf(address: string): string
  /** Called after every successful read of etcd: who etcd says holds which seat. */
  onMembership?(m: VerifiedMembership): void
}

/** etcd's word on who votes, learns and coordinates (node ids), as last read. */
export interface VerifiedMembership {
  voters: ReadonlySet<string>
  learners: ReadonlySet<string>
  coordinator: string | null
  /** Read with quorum (else the list may be a cut-off member's stale one). */
  quorum: boolean
}

const refreshMs = 2000
const freshMs = 6000

/** What one read of etcd returned (the reads that may fail alone are undefined then). */
export interface EtcdObserved {
  list: MemberList
  health: Pick<EndpointHealth, 'healthy'>
  status: Pick<EndpointStatus, 'leaderId'> | undefined
  coordinator: Pick<KeyValue, 'value'> | undefined
  placement: Pick<KeyValue, 'value'> | undefined
}

export interface EtcdView {
  controlPlane: ControlPlaneView
  coordinator: string | null
  membership: VerifiedMembership
}

export class ControlView {
  private cached: (EtcdView & { atMono: number }) | null = null
  private readonly ctl: Controller

  constructor(private readonly c: ControlViewComponents) {
    this.ctl = new Controller(
      {
        name: 'control-view',
        keys: () => ['etcd'],
        resyncMs: refreshMs,
        syncAtStart: false,
        sync: () => this.refresh(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  start(): void {
    this.ctl.start()
  }

  stop(): Promise<void> {
    return this.ctl.stop()
  }

  current(): { controlPlane: ControlPlaneView; coordinator: string | null } {
    const cached = this.cached
    if (cached && this.c.clock.monoMs() - cached.atMono <= freshMs) return cached
    return fromMesh(this.c.nodes())
  }

  /** etcd's own view if this node read it recently (it runs a member that answers); else null. */
  etcdView(): { controlPlane: ControlPlaneView; coordinator: string | null } | null {
    const cached = this.cached
    return cached && this.c.clock.monoMs() - cached.atMono <= freshMs ? cached : null
  }

  /** etcd's membership if read recently (this node runs a member that answers); else null. */
  membership(): VerifiedMembership | null {
    const cached = this.cached
    return cached && this.c.clock.monoMs() - cached.atMono <= freshMs ? cached.membership : null
  }

  /** Reads etcd; unreachable (or no member here) means the view comes from the mesh. */
  private async refresh(): Promise<void> {
    const observed = await this.observe()
    const view = observed && viewFromEtcd(observed, this.c.nodes(), this.c.peerUrlOf, this.c.stateDir)
    this.cached = view ? { ...view, atMono: this.c.clock.monoMs() } : null
    if (view) this.c.onMembership?.(view.membership)
  }

  private async observe(): Promise<EtcdObserved | null> {
    const client = this.c.local.client()
    if (!client) return null
    try {
      const [list, health, status, coordinator, placement] = await Promise.all([
        client.memberList({ timeoutMs: 1500 }),
        client.health(this.c.local.clientUrl, 1500),
        client.status(this.c.local.clientUrl, 1500).catch(() => undefined),
        client.leader(COORDINATOR_ELECTION, { timeoutMs: 1500 }).catch(() => undefined),
        client.get(PLACEMENT_KEY).catch(() => undefined),
      ])
      return { list, health, status, coordinator, placement }
    } catch {
      return null
    }
  }
}

/** The control plane as etcd tells it (pure): members by node id, leader, quorum, placement reasons. */
export function viewFromEtcd(
  o: EtcdObserved,
  nodes: readonly ViewInput[],
  peerUrlOf: (address: string) => string,
  stateDir?: string,
): EtcdView {
  const { list, health, status, coordinator, placement } = o
  const byPeer = new Map<string, string>()
  for (const n of nodes) {
    const a = n.body.addresses[0]
    if (a) byPeer.set(peerUrlOf(a), n.body.id)
  }
  const voterIds = new Set(list.members.filter((m) => !m.isLearner).map((m) => memberNodeId(m, byPeer)))
  const parsed = placement ? parsePlacementRecord(placement.value, voterIds) : undefined
  const leaderMember = list.members.find((m) => status && m.id === status.leaderId && m.id !== 0n)
  const controlPlane: ControlPlaneView = {
    voters: list.members.filter((m) => !m.isLearner).map((m) => memberNodeId(m, byPeer)),
    learners: list.members.filter((m) => m.isLearner).map((m) => memberNodeId(m, byPeer)),
    leader: leaderMember ? memberNodeId(leaderMember, byPeer) : null,
    quorum: health.healthy,
    source: 'etcd',
    ...(parsed?.ok ? placementView(parsed.record) : {}),
    ...(parsed && !parsed.ok ? { placementError: parsed.error.slice(0, 1024) } : {}),
    ...(!health.healthy && stateDir !== undefined ? { recovery: recoveryCommand(stateDir) } : {}),
  }
  const coordinatorId = health.healthy ? (coordinator?.value ?? null) : null
  return {
    controlPlane,
    coordinator: coordinatorId,
    membership: {
      voters: voterIds,
      learners: new Set(controlPlane.learners),
      coordinator: coordinatorId,
      quorum: health.healthy,
    },
  }
}

/** What the status page shows from the coordinator's record: reasons, policy, next step. */
function placementView(record: PlacementRecord): Partial<ControlPlaneView> {
  const n = record.next
  return {
    reasons: placementReasons(record),
    ...(record.policy ? { policy: record.policy } : {}),
    ...(record.fallback && record.fallback.length > 0 ? { fallback: record.fallback } : {}),
    next: {
      kind: n.kind,
      ...('id' in n && n.id !== undefined ? { id: n.id } : {}),
      ...('reason' in n ? { reason: n.reason.slice(0, 256) } : {}),
    },
  }
}

/** Run on a surviving voter with its agent stopped; it restores the newest snapshot it holds. */
export function recoveryCommand(stateDir: string): string {
  return `homecloud recover --state ${/^[\w./-]+$/.test(stateDir) ? stateDir : `'${stateDir.replaceAll("'", "'\\''")}'`}`
}

/** What the nodes' own records say: roles, and who is up. */
export function fromMesh(nodes: readonly ViewInput[]): {
  controlPlane: ControlPlaneView
  coordinator: string | null
} {
  const up = (n: ViewInput) => n.state === 'alive' || n.state === 'suspect'
  const voters = nodes.filter((n) => n.body.roles.includes('etcd-voter'))
  const learners = nodes.filter((n) => n.body.roles.includes('etcd-learner'))
  const coordinator = nodes.find((n) => up(n) && n.body.roles.includes('coordinator'))
  return {
    controlPlane: {
      voters: voters.map((n) => n.body.id),
      learners: learners.map((n) => n.body.id),
      leader: null,
      quorum: voters.length > 0 && voters.filter(up).length >= majority(voters.length),
      source: 'mesh',
    },
    coordinator: coordinator?.body.id ?? null,
  }
}
