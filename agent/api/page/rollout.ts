import type { ClusterView } from '../cluster-schema.js'
import { h, type VNode } from './vnode.js'

/**
 * The rollout (homecloud upgrade): its phase and target, the node in progress and what it
 * waits for, why it halted, releases marked bad, and each node's version, slot and step.
 */
export function rolloutSection(view: ClusterView): VNode | null {
  const r = view.rollout
  if (!r) return null
  return h(
    'section',
    { id: 'rollout', 'aria-labelledby': 'rollout-title' },
    h('h2', { id: 'rollout-title' }, 'Rollout'),
    h(
      'p',
      null,
      h('strong', null, r.phase),
      r.target ? ` to ${r.target}` : '',
      r.current ? ` — ${r.current.name}: ${r.current.step}` : '',
    ),
    r.waiting ? h('p', { class: 'muted' }, `Waiting: ${r.waiting}`) : null,
    r.halt ? h('p', { class: 'problem' }, `Halted: ${r.halt}`) : null,
    r.lock ? h('p', { class: 'muted' }, `Cluster lock: ${r.lock}`) : null,
    r.bad.length > 0
      ? h(
          'ul',
          { class: 'verdict-details problems' },
          r.bad.map((b) =>
            h('li', { class: 'problem' }, `${b.version} marked bad on ${b.node}: ${b.reason}`),
          ),
        )
      : null,
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Node', 'Version', 'Slot', 'Step', 'Outcome'].map((c) => h('th', null, c)),
        ),
      ),
      h(
        'tbody',
        null,
        r.nodes.map((n) =>
          h(
            'tr',
            null,
            [n.name, n.version ?? '—', n.slot ?? '—', n.step ?? '', n.outcome ?? ''].map((c) =>
              h('td', null, c),
            ),
          ),
        ),
      ),
    ),
  )
}
