import type { ClusterView } from '../cluster-schema.js'
import { shortCode, wallTime } from './format.js'
import { h, type VNode } from './vnode.js'

/** Form action for the Approve button (session + CSRF on the HTTPS page; the CLI uses 7443). */
export const APPROVE_PATH = '/actions/approve'
export const LOGIN_PATH = '/login'
/** How to come to trust the HTTPS page (agent/api/ca-routes.ts). */
export const CA_PAGE_PATH = '/ca'

/** What the page knows about the reader: a CSRF token when logged in, else nothing. */
export interface PageAuth {
  csrf: string | null
  /**
   * Where to log in: `/login` on the HTTPS page, the HTTPS page's login from plain HTTP,
   * null when this node has no HTTPS page yet (still joining). Default `/login`.
   */
  loginUrl?: string | null
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
              : loginLink(auth, `Log in to approve ${m.name}`),
        ),
      ),
    ),
  )
}

/** A link to the login form (over HTTPS), or why there is none on this node. */
export function loginLink(auth: PageAuth, text: string): VNode {
  const url = auth.loginUrl === undefined ? LOGIN_PATH : auth.loginUrl
  if (url === null)
    return h('p', { class: 'muted' }, 'Log in on another node: this one has no HTTPS page yet.')
  return h('p', null, h('a', { href: url, class: 'login' }, text))
}
