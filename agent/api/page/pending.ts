import type { ClusterView } from '../cluster-schema.js'
import { shortCode, wallTime } from './format.js'
import { h, type VNode } from './vnode.js'

export const APPROVE_PATH = '/api/v1/approve'

/**
 * Only when someone is waiting: a plain HTML form per node, so approving works without
 * JavaScript. Nothing here changes with the clock, so live re-renders leave a focused
 * button alone.
 */
export function pendingSection(view: ClusterView, nowMs: number): VNode | null {
  const pending = view.members.filter((m) => m.state === 'pending')
  if (pending.length === 0) return null
  return h(
    'section',
    { id: 'pending', 'aria-labelledby': 'pending-title' },
    h('h2', { id: 'pending-title' }, 'Waiting to join'),
    h('p', null, 'Approve a node only if its console shows the same code.'),
    h(
      'ul',
      { class: 'pending' },
      pending.map((m) =>
        h(
          'li',
          { 'data-id': m.id },
          h('strong', null, m.name),
          ` (${m.board}, ${m.arch}) asked at ${wallTime(nowMs, m.stateSinceMs)} · code `,
          h('code', { class: 'short-code' }, shortCode(m.id)),
          h(
            'form',
            { method: 'post', action: APPROVE_PATH, class: 'approve' },
            h('input', { type: 'hidden', name: 'node', value: m.id }),
            // APPROVE AUTH: approving needs authentication; add the session / CSRF token
            // field here when POST /api/v1/approve exists.
            h('button', { type: 'submit' }, `Approve ${m.name}`),
          ),
        ),
      ),
    ),
  )
}
