import type { ClusterView, MemberView } from '../../../../agent/api/cluster-schema.js'

export const NOW = Date.UTC(2025, 4, 1, 14, 0, 0)

let seq = 0

export function member(over: Partial<MemberView> = {}): MemberView {
  seq++
  const id = over.id ?? `${seq.toString(16).padStart(4, '0')}aabbccddeeff0011`.slice(0, 20)
  return {
    id,
    name: `node-${seq}`,
    addresses: [`127.0.9.${seq % 250}`],
    arch: 'arm64',
    board: 'Raspberry Pi 5 Model B',
    memoryMB: 8192,
    cores: 4,
    storageClass: 'nvme',
    fsyncP99Ms: 2.5,
    roles: ['worker'],
    state: 'alive',
    lastSeenMs: NOW - 300,
    stateSinceMs: NOW - 3_600_000,
    version: '0.1.0',
    incarnation: 1,
    self: false,
    url: `http://127.0.9.${seq % 250}:7080/`,
    ...over,
  }
}

/** A three-node mesh-only cluster; the first member is the node the page is on. */
export function clusterView(over: Partial<ClusterView> = {}, members?: MemberView[]): ClusterView {
  const ms = members ?? [
    member({ name: 'pi5-1', self: true, lastSeenMs: NOW }),
    member({ name: 'rock5b-2' }),
    member({ name: 'pi4-3', storageClass: 'sd', fsyncP99Ms: 40, board: 'Raspberry Pi 4 Model B Rev 1.4' }),
  ]
  const self = ms.find((m) => m.self)
  return {
    cluster: { id: 'c0ffee', name: 'home' },
    self: self?.id ?? '',
    coordinator: null,
    members: ms,
    controlPlane: { voters: [], learners: [], leader: null, quorum: false, source: 'mesh' },
    events: ms
      .filter((m) => !m.self)
      .slice(0, 2)
      .map((m, i) => ({
        atMs: NOW - 60_000 + i * 30_000,
        kind: 'joined',
        id: m.id,
        name: m.name,
        message: `${m.name} joined the mesh`,
      })),
    ...over,
  }
}
