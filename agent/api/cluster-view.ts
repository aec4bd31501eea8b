import type { ClusterEvent } from '../core/event-log.js'
import type { Member } from '../mesh/membership.js'
import type { NodeRecordBody } from '../mesh/record.js'
import { foldSuccessors } from '../mesh/successors.js'
import type { ClusterView, KubeNodeView, MemberView, NodeStatsView } from './cluster-schema.js'

export interface ClusterViewInput {
  cluster: { id: string; name: string }
  self: {
    record: NodeRecordBody
    nowMs: number
    status?: { status: 'joining' | 'pending' | 'member'; code: string }
    /** Netbooted: which disk holds this node's state, or why none. */
    stateDisk?: string
  }
  members: Member[]
  /** Joiners waiting for approval; `record` is their own (uncertified) record when we have it. */
  pending?: { id: string; name: string; code: string; sinceMs: number; record?: NodeRecordBody }[]
  events: ClusterEvent[]
  /** From etcd when reachable (agent/controlplane); absent: nothing known yet. */
  controlPlane?: ClusterView['controlPlane']
  coordinator?: string | null
  /** LAN Services (agent/kube/metallb); absent without Kubernetes or before the first read. */
  services?: ClusterView['services'] | null
  /** The Kubernetes Nodes a voter read (matched to members by name); null: not known here. */
  kube?: KubeNodeView[] | null
  /** A node's load, when known (its own, or pulled from it). */
  stats?: (id: string, self: boolean) => NodeStatsView | undefined
}

function memberView(
  b: NodeRecordBody,
  extra: Pick<MemberView, 'state' | 'lastSeenMs' | 'stateSinceMs' | 'self'> & {
    code?: string
    stateDisk?: string
  },
): MemberView {
  const host = b.addresses[0] ?? '127.0.0.1'
  return {
    id: b.id,
    name: b.name,
    addresses: b.addresses,
    arch: b.facts.arch,
    board: b.facts.board,
    memoryMB: b.facts.memoryMB,
    cores: b.facts.cores,
    storageClass: b.facts.storageClass,
    fsyncP99Ms: b.facts.fsyncP99Ms,
    roles: b.roles,
    version: b.version,
    incarnation: b.incarnation,
    url: `http://${host}:${b.ports.api}/`,
    ...extra,
  }
}

/** The cluster as this node sees it; a pure function of the mesh view (etcd joins it later). */
export function buildClusterView(input: ClusterViewInput): ClusterView {
  const joining = input.self.status && input.self.status.status !== 'member'
  const self = memberView(input.self.record, {
    state: joining ? 'pending' : 'alive',
    lastSeenMs: input.self.nowMs,
    stateSinceMs: input.self.record.startedAtMs,
    self: true,
    ...(joining ? { code: input.self.status!.code } : {}),
    ...(input.self.stateDisk ? { stateDisk: input.self.stateDisk } : {}),
  })
  const others = currentMembers(input).map((m) =>
    memberView(m.signed.body, {
      state: m.state,
      lastSeenMs: m.lastHeardMs,
      stateSinceMs: m.stateSinceMs,
      self: false,
    }),
  )
  const kubeByName = new Map((input.kube ?? []).map((k) => [k.name, k]))
  for (const m of [self, ...others]) {
    const kube = kubeByName.get(m.name)
    if (kube) m.kube = kube
    const stats = input.stats?.(m.id, m.self)
    if (stats) m.stats = stats
  }
  const known = new Set([self.id, ...others.map((m) => m.id)])
  const pending = (input.pending ?? [])
    .filter((p) => !known.has(p.id))
    .map((p) => pendingView(p, input.self.nowMs))
  const members = [self, ...others, ...pending].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1,
  )
  return {
    cluster: input.cluster,
    self: self.id,
    coordinator: input.coordinator ?? null,
    members,
    controlPlane: input.controlPlane ?? {
      voters: [],
      learners: [],
      leader: null,
      quorum: false,
      source: 'mesh',
    },
    ...(input.services ? { services: input.services } : {}),
    events: input.events,
  }
}

/**
 * The members to show: a netbooted machine's former members (dead, state in RAM) are
 * replaced by the member it is now (agent/mesh/successors.ts), so each machine is listed once.
 */
function currentMembers(input: ClusterViewInput): Member[] {
  const claim = (b: NodeRecordBody, alive: boolean) => ({
    id: b.id,
    name: b.name,
    alive,
    startedAtMs: b.startedAtMs ?? null,
    ...(b.facts.ramOnly ? { ramOnly: true, macs: b.facts.macs } : {}),
  })
  const kept = new Set(
    foldSuccessors([
      claim(input.self.record, true),
      ...input.members.map((m) => claim(m.signed.body, m.state !== 'dead')),
    ]).map((c) => c.id),
  )
  return input.members.filter((m) => kept.has(m.signed.body.id))
}

function pendingView(p: NonNullable<ClusterViewInput['pending']>[number], nowMs: number): MemberView {
  if (p.record)
    return memberView(p.record, {
      state: 'pending',
      lastSeenMs: nowMs,
      stateSinceMs: p.sinceMs,
      self: false,
      code: p.code,
    })
  return {
    id: p.id,
    name: p.name,
    addresses: [],
    arch: 'unknown',
    board: 'unknown',
    memoryMB: 0,
    cores: 0,
    storageClass: 'unknown',
    fsyncP99Ms: null,
    roles: [],
    state: 'pending',
    lastSeenMs: nowMs,
    stateSinceMs: p.sinceMs,
    version: '',
    incarnation: 0,
    self: false,
    url: '',
    code: p.code,
  }
}
