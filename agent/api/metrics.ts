import type { Counters } from '../core/counters.js'
import type { ClusterView } from './cluster-schema.js'

/** Prometheus text exposition: gauges from the cluster view, then every counter. */
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
  const names = new Set<string>()
  for (const [key, value] of counters.entries()) {
    const name = key.split('{')[0]!
    if (!names.has(name)) {
      names.add(name)
      lines.push(`# TYPE ${name} counter`)
    }
    lines.push(`${key} ${value}`)
  }
  return `${lines.join('\n')}\n`
}
