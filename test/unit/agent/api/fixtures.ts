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

let tls: { caPem: string; certPem: string; keyPem: string } | undefined

/** A cluster CA and an agent certificate for 127.0.0.1 (valid now): for the HTTPS page. */
export async function tlsMaterial(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  if (tls) return tls
  const { createCa } = await import('../../../../agent/pki/ca.js')
  const { issueCertificate } = await import('../../../../agent/pki/sign.js')
  const { systemClock } = await import('../../../../agent/core/clock.js')
  const clock = systemClock()
  const ca = createCa({ clusterId: 'c-test', clusterName: 'test', clock })
  const leaf = issueCertificate({
    ca,
    profile: 'agent',
    identity: { nodeId: 'n1a2b3c4', nodeName: 'pi5-1', ips: ['127.0.0.1'] },
    clock,
  })
  tls = { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem }
  return tls
}
