import type { ClusterView } from '../cluster-schema.js'
import { controlPlaneSection } from './control-plane.js'
import { linksSection } from './links.js'
import { nodesSection } from './nodes.js'
import { type PageAuth, pendingSection } from './pending.js'
import { releasesSection } from './releases.js'
import { servicesSection } from './services.js'
import { timelineSection } from './timeline.js'
import { verdict } from './verdict.js'
import { h, type VNode } from './vnode.js'

function verdictSection(view: ClusterView, nowMs: number): VNode {
  const v = verdict(view, nowMs)
  return h(
    'section',
    { id: 'verdict', class: `verdict verdict-${v.level}`, role: 'status' },
    h('h1', { id: 'verdict-headline' }, v.headline),
    v.details.length > 0
      ? h(
          'ul',
          { class: 'verdict-details' },
          v.details.map((d) => h('li', null, d)),
        )
      : null,
    v.command ? h('p', null, 'Run on any node: ', h('code', { class: 'command' }, v.command)) : null,
  )
}

function clusterSection(view: ClusterView): VNode {
  const self = view.members.find((m) => m.self)
  return h(
    'section',
    { id: 'cluster', class: 'cluster' },
    h(
      'p',
      null,
      'Cluster ',
      h('strong', null, view.cluster.name),
      ` (${view.cluster.id})`,
      self ? [' · you are on ', h('strong', null, self.name), ` (${self.addresses.join(', ')})`] : null,
    ),
    view.controlPlane.source === 'mesh'
      ? h(
          'p',
          { id: 'source', class: 'source-mesh' },
          h('strong', null, 'View from the mesh.'),
          ' etcd is not reachable from this node (or not running yet): this is what the nodes gossip to each other. It shows who is alive, not whether the control plane has quorum.',
        )
      : null,
  )
}

/** The page's sections in order, each with a stable id so the browser can replace it alone. */
export function pageSections(view: ClusterView, nowMs: number, auth: PageAuth = { csrf: null }): VNode[] {
  return [
    verdictSection(view, nowMs),
    clusterSection(view),
    pendingSection(view, nowMs, auth),
    nodesSection(view, nowMs),
    controlPlaneSection(view),
    releasesSection(view),
    servicesSection(view),
    timelineSection(view, nowMs),
    linksSection(view),
  ].filter((s): s is VNode => s !== null)
}

/** For the tab title: "Degraded · lab". */
export function pageTitle(view: ClusterView, nowMs: number): string {
  return `${verdict(view, nowMs).headline.split(':')[0]} · homecloud ${view.cluster.name}`
}
