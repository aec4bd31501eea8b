import type { ClusterView, MemberView } from '../agent/api/cluster-schema.js'
import { verdict } from '../agent/api/page/verdict.js'
import { agoText, renderTable } from './table.js'

function kubeText(m: MemberView): string {
  const k = m.kube
  if (!k) return '-'
  const ready = k.ready === 'True' ? 'Ready' : k.ready === 'False' ? 'NotReady' : 'Unknown'
  return `${ready}${k.unschedulable ? ',cordoned' : ''} ${k.podsRunning}p`
}

function loadText(m: MemberView): string {
  const s = m.stats
  if (!s) return '-'
  const mem = s.memTotalMB > 0 ? Math.round((100 * s.memUsedMB) / s.memTotalMB) : 0
  return `${Math.round(s.cpuPct)}%/${mem}%${s.tempC !== null ? ` ${Math.round(s.tempC)}C` : ''}${s.throttled ? ' throttled' : ''}`
}

function sourceText(view: ClusterView): string {
  const cp = view.controlPlane
  if (cp.source === 'mesh') return 'view from the mesh (no etcd voter answers)'
  return cp.via ? `view from etcd through ${cp.via.name}` : 'view from etcd'
}

/** The verdict as lines: the headline, then each finding with what to do. */
export function formatVerdict(view: ClusterView, nowMs: number): string {
  const v = verdict(view, nowMs)
  const lines = [v.headline]
  for (const f of v.findings) {
    lines.push(`  - ${f.what}`, `    homecloud: ${f.doing}`)
    if (f.todo) lines.push(`    you: ${f.todo}`)
    if (f.command) lines.push(`    run on ${f.command.where}: ${f.command.text}`)
  }
  for (const d of v.details) lines.push(`  ${d}`)
  return lines.join('\n')
}

/** `homecloud status`: the verdict, then the cluster view as a table, the node you asked marked with '*'. */
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
    kubeText(m),
    loadText(m),
    m.addresses.join(' '),
    m.self ? 'now' : agoText(nowMs, m.lastSeenMs),
    m.version,
  ])
  const alive = view.members.filter((m) => m.state === 'alive').length
  const head = `cluster ${view.cluster.name} (${view.cluster.id}): ${alive}/${view.members.length} alive, ${sourceText(view)}`
  return `${head}\n${formatVerdict(view, nowMs)}\n${renderTable(
    [
      'NAME',
      'ID',
      'STATE',
      'BOARD',
      'ARCH',
      'MEM',
      'DISK',
      'ROLES',
      'KUBE',
      'CPU/MEM',
      'ADDRESS',
      'SEEN',
      'VERSION',
    ],
    rows,
  )}`
}
