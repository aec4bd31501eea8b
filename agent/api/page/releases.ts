import type { ClusterView } from '../cluster-schema.js'
import { h, type VNode } from './vnode.js'

/** Releases: what netboot serves per architecture, and anything wrong (a full disk, a refused record). */
export function releasesSection(view: ClusterView): VNode | null {
  const r = view.releases
  if (!r) return null
  return h(
    'section',
    { id: 'releases', 'aria-labelledby': 'releases-title' },
    h('h2', { id: 'releases-title' }, 'Releases'),
    r.current.length === 0
      ? h('p', { class: 'muted' }, 'No release published yet (homecloud release publish).')
      : h(
          'ul',
          null,
          r.current.map((c) =>
            h('li', null, `${c.arch}: `, h('strong', null, c.version), ` (${c.id.slice(0, 12)}…)`),
          ),
        ),
    r.problems.length > 0
      ? h(
          'ul',
          { class: 'verdict-details problems' },
          r.problems.map((p) => h('li', { class: 'problem' }, p)),
        )
      : null,
  )
}
