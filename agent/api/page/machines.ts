import type { ClusterView, MemberView, NodeStatsView } from '../cluster-schema.js'
import { sparkline } from './chart.js'
import { ago } from './format.js'
import { type Child, h, type VNode } from './vnode.js'

// How busy and hot each machine is, with a chart of the last hour: what people look at
// on a rack of boards. The numbers come from each node itself (agent/stats).

const pct = (used: number, total: number) => (total > 0 ? Math.round((100 * used) / total) : 0)

function gb(mb: number): string {
  return mb >= 1024 ? `${Math.round((mb / 1024) * 10) / 10} GB` : `${Math.round(mb)} MB`
}

function facts(m: MemberView, s: NodeStatsView, nowMs: number): Child[] {
  const rows: [string, Child][] = [
    ['Disk', s.diskUsedPct === null ? 'not measured' : `${Math.round(s.diskUsedPct)} % used`],
    ['Temperature', s.tempC === null ? 'not reported' : `${Math.round(s.tempC)} °C`],
    [
      'Throttled',
      s.throttled === null
        ? 'not reported'
        : s.throttled
          ? h('span', { class: 'warn-inline' }, 'yes: under-voltage or heat')
          : 'no',
    ],
  ]
  if (m.state !== 'alive') rows.push(['Last reading', ago(nowMs, s.atMs)])
  return [
    h(
      'dl',
      { class: 'facts machine-facts' },
      rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
    ),
  ]
}

function card(m: MemberView, nowMs: number): VNode {
  const s = m.stats
  if (!s)
    return h(
      'li',
      { class: `machine member-${m.state}`, 'data-id': m.id },
      h('h3', null, m.name),
      h('p', { class: 'muted' }, m.state === 'alive' ? 'No readings yet.' : `No readings (${m.state}).`),
    )
  const memPct = pct(s.memUsedMB, s.memTotalMB)
  return h(
    'li',
    { class: `machine member-${m.state}`, 'data-id': m.id },
    h('h3', null, m.name, s.source === 'lab' ? h('span', { class: 'badge lab-badge' }, 'lab') : null),
    h(
      'div',
      { class: 'gauge' },
      h('span', { class: 'gauge-label' }, `CPU ${Math.round(s.cpuPct)} %`),
      sparkline(s.history, 'cpuPct', { label: 'CPU', now: s.cpuPct, nowMs }),
    ),
    h(
      'div',
      { class: 'gauge' },
      h('span', { class: 'gauge-label' }, `Memory ${gb(s.memUsedMB)} of ${gb(s.memTotalMB)} (${memPct} %)`),
      sparkline(s.history, 'memPct', { label: 'Memory', now: memPct, nowMs }),
    ),
    facts(m, s, nowMs),
  )
}

export function machinesSection(view: ClusterView, nowMs: number): VNode {
  const shown = view.members.filter((m) => m.state !== 'pending')
  const lab = shown.some((m) => m.stats?.source === 'lab')
  return h(
    'section',
    { id: 'machines', 'aria-labelledby': 'machines-title' },
    h('h2', { id: 'machines-title' }, 'Machines (last hour)'),
    lab
      ? h(
          'p',
          { class: 'muted' },
          'Lab boards share one computer: their numbers are each node’s own processes (agent, etcd, Kubernetes programs) measured against the board’s profile, and they report no temperature.',
        )
      : null,
    h(
      'ul',
      { class: 'machines' },
      shown.map((m) => card(m, nowMs)),
    ),
  )
}
