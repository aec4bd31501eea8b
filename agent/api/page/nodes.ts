import type { ClusterView, MemberView } from '../cluster-schema.js'
import { ago, millis, safeHttpUrl, since } from './format.js'
import { type Child, h, type VNode } from './vnode.js'

/** etcd refuses data disks slower than this (control/placement's fsyncP99MsMax default). */
export const SLOW_FSYNC_MS = 10
export const SLOW_DISK_WARNING = 'slow disk: etcd would refuse it'

const COLUMNS = [
  'Node',
  'Board',
  'Arch',
  'Roles',
  'State',
  'Kubernetes',
  'Pods',
  'Last seen',
  'Version',
  'Storage',
  'Addresses',
]

function nameCell(m: MemberView): Child[] {
  const url = safeHttpUrl(m.url)
  const name = url && !m.self ? h('a', { href: url }, m.name) : h('strong', null, m.name)
  return [name, m.self ? h('span', { class: 'badge self-badge' }, 'you are here') : null].filter(
    (c): c is VNode => c !== null,
  )
}

function lastSeen(m: MemberView, nowMs: number): string {
  if (m.self) return 'this node'
  // Alive means heard within the suspect timeout: a ticking "0 s ago" would only be noise.
  return m.state === 'alive' ? 'just now' : ago(nowMs, m.lastSeenMs)
}

function storage(m: MemberView): Child[] {
  const fsync = m.fsyncP99Ms === null ? 'fsync not measured' : `fsync p99 ${millis(m.fsyncP99Ms)}`
  const slow = m.fsyncP99Ms !== null && m.fsyncP99Ms > SLOW_FSYNC_MS
  return [
    `${m.storageClass} · ${fsync}`,
    slow ? h('span', { class: 'warn' }, `⚠ ${SLOW_DISK_WARNING}`) : null,
  ].filter((c): c is Child => c !== null)
}

function stateCell(m: MemberView, nowMs: number): Child[] {
  const label = h('span', { class: `state state-${m.state}` }, m.state)
  return m.state === 'alive' ? [label] : [label, h('small', null, `since ${since(nowMs, m.stateSinceMs)}`)]
}

/** The Node's Ready condition, kubelet version, cordon/drain and (once upgrades exist) its upgrade step. */
function kubeCell(m: MemberView): Child[] {
  const k = m.kube
  if (!k) return [h('span', { class: 'muted' }, m.state === 'pending' ? '—' : 'not known')]
  const ready = k.ready === 'True' ? 'Ready' : k.ready === 'False' ? 'NotReady' : 'Unknown'
  const out: Child[] = [
    h('span', { class: `kube-state kube-${ready.toLowerCase()}` }, ready),
    ` · ${k.kubeletVersion || 'no kubelet version'}`,
  ]
  if (k.ready !== 'True' && k.reason) out.push(h('small', null, k.reason))
  if (k.unschedulable) out.push(h('small', { class: 'cordon' }, `cordoned by ${k.cordonedBy ?? 'someone'}`))
  if (k.drain)
    out.push(h('small', null, `drain: ${k.drain.status}${k.drain.message ? ` (${k.drain.message})` : ''}`))
  if (k.upgradeStep) out.push(h('small', null, `upgrade: ${k.upgradeStep}`))
  return out
}

function row(m: MemberView, nowMs: number): VNode {
  const cells: Child[][] = [
    nameCell(m),
    [m.board],
    [m.arch],
    [m.roles.length > 0 ? m.roles.join(', ') : '—'],
    stateCell(m, nowMs),
    kubeCell(m),
    [m.kube ? String(m.kube.podsRunning) : '—'],
    [lastSeen(m, nowMs)],
    [m.version],
    storage(m),
    [m.addresses.join(', ')],
  ]
  return h(
    'tr',
    { class: `member member-${m.state}${m.self ? ' member-self' : ''}`, 'data-id': m.id },
    cells.map((c, i) => h('td', { 'data-label': COLUMNS[i] }, c)),
  )
}

export function nodesSection(view: ClusterView, nowMs: number): VNode {
  const alive = view.members.filter((m) => m.state === 'alive').length
  return h(
    'section',
    { id: 'nodes', 'aria-labelledby': 'nodes-title' },
    h('h2', { id: 'nodes-title' }, `Nodes (${alive} of ${view.members.length} alive)`),
    h(
      'table',
      { class: 'cards' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        { id: 'node-rows' },
        view.members.map((m) => row(m, nowMs)),
      ),
    ),
  )
}
