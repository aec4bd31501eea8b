import type { ClusterView } from '../cluster-schema.js'
import { isoTime, wallTime } from './format.js'
import { h, type VNode } from './vnode.js'

/** Newest first; older ones stay in GET /api/v1/cluster. */
export const TIMELINE_ITEMS_MAX = 50

export function timelineSection(view: ClusterView, nowMs: number): VNode {
  const items = view.events.slice(-TIMELINE_ITEMS_MAX).reverse()
  return h(
    'section',
    { id: 'timeline', 'aria-labelledby': 'timeline-title' },
    h('h2', { id: 'timeline-title' }, 'Timeline'),
    items.length === 0
      ? h('p', { class: 'muted' }, 'Nothing has happened yet.')
      : h(
          'ol',
          { id: 'events', class: 'events' },
          items.map((e) =>
            h(
              'li',
              { class: `event event-${e.kind.replace(/[^a-z0-9-]/gi, '')}` },
              h('time', { datetime: isoTime(e.atMs) }, wallTime(nowMs, e.atMs)),
              ' ',
              h('span', { class: 'event-message' }, e.message),
            ),
          ),
        ),
  )
}
