import type { ClusterView } from '../cluster-schema.js'
import { h, type VNode } from './vnode.js'

function names(view: ClusterView, ids: readonly string[], none: string): string {
  if (ids.length === 0) return none
  return ids.map((id) => view.members.find((m) => m.id === id)?.name ?? id).join(', ')
}

export function controlPlaneSection(view: ClusterView): VNode {
  const cp = view.controlPlane
  const fromEtcd = cp.source === 'etcd'
  const rows: [string, string][] = [
    ['Voters', names(view, cp.voters, fromEtcd ? 'none' : 'none yet (etcd is not running)')],
    ['Learners', names(view, cp.learners, 'none')],
    ['Leader', cp.leader ? names(view, [cp.leader], '') : 'none'],
    ['Coordinator', view.coordinator ? names(view, [view.coordinator], '') : 'not running yet'],
    ['Quorum', fromEtcd ? (cp.quorum ? 'yes' : 'LOST') : 'unknown (no etcd view)'],
    [
      'Source',
      fromEtcd
        ? cp.via
          ? `etcd, through ${cp.via.name}`
          : 'etcd (this node’s own member)'
        : 'the mesh (no etcd voter answers this node)',
    ],
  ]
  return h(
    'section',
    { id: 'control-plane', 'aria-labelledby': 'control-plane-title' },
    h('h2', { id: 'control-plane-title' }, 'Control plane'),
    h(
      'dl',
      { class: 'facts' },
      rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
    ),
    placementReasons(view),
  )
}

/** Placement's per-board reasons (why each board was chosen or passed over), one line per board. */
function placementReasons(view: ClusterView): VNode {
  const reasons = view.controlPlane.reasons
  if (!reasons || reasons.length === 0)
    return h(
      'p',
      { class: 'muted' },
      'Why each board was chosen or passed over appears here once placement runs.',
    )
  return h(
    'ul',
    { class: 'reasons', 'aria-label': 'Why each board was chosen or passed over' },
    reasons.map((r) =>
      h(
        'li',
        { 'data-node': r.id },
        h('strong', null, r.name ?? view.members.find((m) => m.id === r.id)?.name ?? r.id),
        `: ${r.why}`,
      ),
    ),
  )
}
