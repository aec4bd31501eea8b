import type { ClusterView } from '../cluster-schema.js'
import { shortCode, wallTime } from './format.js'
import { h, type VNode } from './vnode.js'

/** Form action for the Approve button (session + CSRF on 7080; the CLI uses 7443). */
export const APPROVE_PATH = '/actions/approve'
export const LOGIN_PATH = '/login'

/** What the page knows about the reader: a CSRF token when logged in, else nothing. */
export interface PageAuth {
  csrf: string | null
}

/**
 * Only when someone is waiting: a plain HTML form per node, so approving works without
 * JavaScript. Nothing here changes with the clock, so live re-renders leave a focused
 * button alone.
 */
export function pendingSection(
  view: ClusterView,
  nowMs: number,
  auth: PageAuth = { csrf: null },
): VNode | null {
  const pending = view.members.filter((m) => m.state === 'pending')
  if (pending.length === 0) return null
  return h(
    'section',
    { id: 'pending', 'aria-labelledby': 'pending-title' },
    h('h2', { id: 'pending-title' }, 'Waiting to join'),
    h(
      'p',
      null,
      'Approve a node only if its console shows the same code. From a terminal on a member: ',
      h('code', null, 'homecloud approve NODE'),
      '.',
    ),
    h(
      'ul',
      { class: 'pending' },
      pending.map((m) =>
        h(
          'li',
          { 'data-id': m.id },
          h('strong', null, m.name),
          ` (${m.board}, ${m.arch}) asked at ${wallTime(nowMs, m.stateSinceMs)} · code `,
          h('code', { class: 'short-code' }, m.code ?? shortCode(m.id)),
          m.self
            ? h(
                'p',
                { class: 'muted' },
                'This node: approve it from the page of a node that is already a member.',
              )
            : auth.csrf
              ? h(
                  'form',
                  { method: 'post', action: APPROVE_PATH, class: 'approve' },
                  h('input', { type: 'hidden', name: 'node', value: m.id }),
                  h('input', { type: 'hidden', name: 'csrf', value: auth.csrf }),
                  h('button', { type: 'submit' }, `Approve ${m.name}`),
                )
              : h('p', null, h('a', { href: LOGIN_PATH, class: 'login' }, `Log in to approve ${m.name}`)),
        ),
      ),
    ),
  )
}
