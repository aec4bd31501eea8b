import type { ClusterView } from '../cluster-schema.js'
import { safeHttpUrl } from './format.js'
import { h, type VNode } from './vnode.js'

/** The same page on every other node: when this one dies, the owner follows a link. */
export function linksSection(view: ClusterView): VNode {
  const others = view.members.filter((m) => !m.self)
  return h(
    'section',
    { id: 'links', 'aria-labelledby': 'links-title' },
    h('h2', { id: 'links-title' }, 'This page on other nodes'),
    others.length === 0
      ? h('p', { class: 'muted' }, 'No other nodes yet.')
      : h(
          'ul',
          { class: 'links' },
          others.map((m) => {
            const url = safeHttpUrl(m.url)
            const label = m.state === 'alive' ? m.name : `${m.name} (${m.state})`
            return h('li', { class: `member-${m.state}` }, url ? h('a', { href: url }, label) : label)
          }),
        ),
  )
}
