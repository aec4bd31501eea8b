import type { ClusterView } from '../agent/api/cluster-schema.js'
import { agoText, renderTable } from './table.js'

/** `homecloud status`: the cluster view as a table, the node you asked marked with '*'. */
export function formatClusterView(view: ClusterView, nowMs: number): string {
  const rows = view.members.map((m) => [
    (m.self ? '*' : ' ') + m.name,
    m.id.slice(0, 12),
    m.state,
    m.board,
    m.arch,
    `${Math.round(m.memoryMB / 1024)}G`,
    m.storageClass,
    m.roles.join(',') || '-',
    m.addresses.join(' '),
    m.self ? 'now' : agoText(nowMs, m.lastSeenMs),
    m.version,
  ])
  const alive = view.members.filter((m) => m.state === 'alive').length
  const head = `cluster ${view.cluster.name} (${view.cluster.id}): ${alive}/${view.members.length} alive, view from ${view.controlPlane.source}`
  return `${head}\n${renderTable(['NAME', 'ID', 'STATE', 'BOARD', 'ARCH', 'MEM', 'DISK', 'ROLES', 'ADDRESS', 'SEEN', 'VERSION'], rows)}`
}
