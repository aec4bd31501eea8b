import { idHex } from '../../agent/etcd/model/ids.js'
import type { EtcdMember } from '../../agent/etcd/model/members.js'
import type { NodeRecordBody } from '../../agent/mesh/record.js'
import type { MemberSet, NodeState, NodeView } from '../placement/types.js'

// From what the shell observed (mesh records, etcd's member list and statuses) to
// what placement reads. Pure: no clock, no I/O.

/** A node as the mesh sees it, with what the coordinator needs to reach it. */
export interface ObservedNode {
  view: NodeView
  /** Its first address (etcd listens there), null when it announced none. */
  address: string | null
}

export function observedNode(
  body: NodeRecordBody,
  state: NodeState,
  stateSinceMs: number,
  opts: { revoked?: boolean; optedOut?: boolean } = {},
): ObservedNode {
  const f = body.facts
  return {
    view: {
      id: body.id,
      name: body.name,
      arch: f.arch,
      alive: state === 'alive' || state === 'suspect',
      state,
      deadSinceMs: state === 'dead' ? stateSinceMs : null,
      optedOut: opts.optedOut ?? false,
      revoked: opts.revoked ?? false,
      memoryMB: f.memoryMB,
      cores: f.cores,
      storageClass: f.storageClass,
      fsyncP99Ms: f.fsyncP99Ms,
      ...(f.ramOnly === true ? { ramOnly: true } : {}),
    },
    address: body.addresses[0] ?? null,
  }
}

/**
 * Whose member is this: its name once started (we name members by node id), else the
 * node whose peer URL it was added with; else its hex id (a member nobody claims).
 */
export function memberNodeId(m: EtcdMember, nodeIdByPeerUrl: ReadonlyMap<string, string>): string {
  if (m.name !== '') return m.name
  for (const u of m.peerUrls) {
    const id = nodeIdByPeerUrl.get(u)
    if (id !== undefined) return id
  }
  return idHex(m.id)
}

/** Every member's node id for etcd's users; `complete` false while some member's node is unknown. */
export function accessMembers(
  members: readonly EtcdMember[],
  nodeIdByPeerUrl: ReadonlyMap<string, string>,
): { ids: string[]; complete: boolean } {
  return {
    ids: members.map((m) => memberNodeId(m, nodeIdByPeerUrl)),
    complete: members.every((m) => m.name !== '' || m.peerUrls.some((u) => nodeIdByPeerUrl.has(u))),
  }
}

/** The membership as placement reads it; `caughtUp` by member id (hex). */
export function memberSetFrom(
  members: readonly EtcdMember[],
  nodeIdByPeerUrl: ReadonlyMap<string, string>,
  caughtUp: ReadonlyMap<string, boolean> = new Map(),
): MemberSet {
  const voters: string[] = []
  const learners: string[] = []
  const learnerCaughtUp: Record<string, boolean> = {}
  for (const m of members) {
    const id = memberNodeId(m, nodeIdByPeerUrl)
    if (!m.isLearner) voters.push(id)
    else {
      learners.push(id)
      learnerCaughtUp[id] = caughtUp.get(idHex(m.id)) === true
    }
  }
  return { voters, learners, learnerCaughtUp }
}

/** A learner that never started has not published a name or client URLs. */
export function isUnstarted(m: EtcdMember): boolean {
  return m.name === '' || m.clientUrls.length === 0
}
