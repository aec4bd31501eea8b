import type { ClusterView } from '../cluster-schema.js'
import { type Child, h, type VNode } from './vnode.js'

// Services on the LAN: each Service of type LoadBalancer with the addresses MetalLB gave
// it and the node answering ARP for them (agent/kube/metallb). Absent without Kubernetes;
// a line instead of a table while there is none.

const COLUMNS = ['Service', 'LAN address', 'Ports', 'Answered by']

function row(s: NonNullable<ClusterView['services']>[number], view: ClusterView): VNode {
  const node = s.node ? view.members.find((m) => m.name === s.node) : undefined
  const answeredBy: Child[] = s.node
    ? [
        s.node,
        node && node.state !== 'alive' ? h('span', { class: 'warn' }, ` ⚠ ${node.state}`) : null,
      ].filter((c): c is Child => c !== null)
    : [h('span', { class: 'muted' }, s.addresses.length ? 'no node yet' : '—')]
  const cells: Child[][] = [
    [`${s.namespace}/${s.name}`],
    [s.addresses.length ? s.addresses.join(', ') : h('span', { class: 'muted' }, 'waiting for an address')],
    [s.ports.join(', ') || '—'],
    answeredBy,
  ]
  return h(
    'tr',
    { 'data-service': `${s.namespace}/${s.name}` },
    cells.map((c, i) => h('td', { 'data-label': COLUMNS[i] }, c)),
  )
}

export function servicesSection(view: ClusterView): VNode | null {
  const services = view.services
  if (!services) return null
  return h(
    'section',
    { id: 'services', 'aria-labelledby': 'services-title' },
    h('h2', { id: 'services-title' }, `Services on the LAN (${services.length})`),
    services.length === 0
      ? h(
          'p',
          { class: 'muted' },
          'None yet: a Service of type LoadBalancer gets an address from kube.loadBalancer.addresses.',
        )
      : h(
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
            null,
            services.map((s) => row(s, view)),
          ),
        ),
  )
}
