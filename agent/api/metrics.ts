import type { Counters } from '../core/counters.js'
import type { ClusterView } from './cluster-schema.js'

/**
 * Counters the issue promises on every node, written with their help text and as 0
 * before the first event, so dashboards and alerts can rely on them existing.
 */
export const DOCUMENTED_COUNTERS: readonly { name: string; help: string }[] = [
  {
    name: 'homecloud_failovers_total',
    help: 'etcd voters removed by the coordinator on this node (each failover removes one).',
  },
  { name: 'homecloud_joins_total', help: 'Join requests signed by this node (signers only).' },
  {
    name: 'homecloud_drains_total',
    help: 'Node drains performed. Always 0 for now: drains do not exist yet.',
  },
]

/** Prometheus text exposition (0.0.4): gauges from the cluster view, then every counter. */
export function renderMetrics(view: ClusterView, counters: Counters): string {
  const lines: string[] = []
  lines.push('# HELP homecloud_members Members by state, as this node sees them.')
  lines.push('# TYPE homecloud_members gauge')
  for (const state of ['alive', 'suspect', 'dead', 'pending'] as const) {
    lines.push(`homecloud_members{state="${state}"} ${view.members.filter((m) => m.state === state).length}`)
  }
  lines.push('# HELP homecloud_etcd_voters etcd voting members.')
  lines.push('# TYPE homecloud_etcd_voters gauge')
  lines.push(`homecloud_etcd_voters ${view.controlPlane.voters.length}`)
  const entries = counters.entries()
  const nameOf = (key: string) => key.split('{')[0]!
  const documented = new Set(DOCUMENTED_COUNTERS.map((c) => c.name))
  for (const { name, help } of DOCUMENTED_COUNTERS) {
    lines.push(`# HELP ${name} ${help}`)
    lines.push(`# TYPE ${name} counter`)
    const own = entries.filter(([key]) => nameOf(key) === name)
    if (own.length === 0) lines.push(`${name} 0`)
    for (const [key, value] of own) lines.push(`${key} ${value}`)
  }
  // Entries are sorted by key, so each family's samples stay together as the format requires.
  const names = new Set<string>()
  for (const [key, value] of entries) {
    const name = nameOf(key)
    if (documented.has(name)) continue
    if (!names.has(name)) {
      names.add(name)
      lines.push(`# TYPE ${name} counter`)
    }
    lines.push(`${key} ${value}`)
  }
  return `${lines.join('\n')}\n`
}
