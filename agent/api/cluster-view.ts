import type { ClusterEvent } from '../core/event-log.js'
import type { Member } from '../mesh/membership.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { ClusterView, MemberView } from './cluster-schema.js'

export interface ClusterViewInput {
  cluster: { id: string; name: string }
  self: { record: NodeRecordBody; nowMs: number }
  members: Member[]
  events: ClusterEvent[]
}

function memberView(
  b: NodeRecordBody,
  extra: Pick<MemberView, 'state' | 'lastSeenMs' | 'stateSinceMs' | 'self'>,
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
  const self = memberView(input.self.record, {
    state: 'alive',
    lastSeenMs: input.self.nowMs,
    stateSinceMs: input.self.record.startedAtMs,
    self: true,
  })
  const others = input.members.map((m) =>
    memberView(m.signed.body, {
      state: m.state,
      lastSeenMs: m.lastHeardMs,
      stateSinceMs: m.stateSinceMs,
      self: false,
    }),
  )
  const members = [self, ...others].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1,
  )
  return {
    cluster: input.cluster,
    self: self.id,
    coordinator: null,
    members,
    controlPlane: { voters: [], learners: [], leader: null, quorum: false, source: 'mesh' },
    events: input.events,
  }
}
