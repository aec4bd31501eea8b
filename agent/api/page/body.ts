import type { ClusterView } from '../cluster-schema.js'
import { controlPlaneSection } from './control-plane.js'
import type { Finding } from './findings.js'
import { linksSection } from './links.js'
import { machinesSection } from './machines.js'
import { nodesSection } from './nodes.js'
import { type PageAuth, pendingSection } from './pending.js'
import { releasesSection } from './releases.js'
import { rolloutSection } from './rollout.js'
import { servicesSection } from './services.js'
import { timelineSection } from './timeline.js'
import { verdict } from './verdict.js'
import { h, type VNode } from './vnode.js'

function findingItem(f: Finding): VNode {
  return h(
    'li',
    { class: `finding finding-${f.kind}`, ...(f.node ? { 'data-id': f.node } : {}) },
    h('p', { class: 'finding-what' }, f.what),
    h('p', { class: 'finding-doing' }, h('span', { class: 'finding-label' }, 'homecloud: '), f.doing),
    f.todo ? h('p', { class: 'finding-todo' }, h('span', { class: 'finding-label' }, 'You: '), f.todo) : null,
    f.command
      ? h(
          'p',
          { class: 'finding-command' },
          `Run on ${f.command.where}: `,
          h('code', { class: 'command' }, f.command.text),
        )
      : null,
  )
}

function verdictSection(view: ClusterView, nowMs: number): VNode {
  const v = verdict(view, nowMs)
  return h(
    'section',
    { id: 'verdict', class: `verdict verdict-${v.level}`, role: 'status' },
    h('h1', { id: 'verdict-headline' }, v.headline),
    v.findings.length > 0
      ? h(
          'ol',
          { class: 'findings', 'aria-label': 'What needs attention, most urgent first' },
          v.findings.map(findingItem),
        )
      : null,
    v.details.length > 0
      ? h(
          'ul',
          { class: 'verdict-details' },
          v.details.map((d) => h('li', null, d)),
        )
      : null,
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
    self?.stateDisk
      ? h('p', { id: 'state-disk', class: 'state-disk' }, `This node's state is ${self.stateDisk}.`)
      : null,
    view.controlPlane.via
      ? h(
          'p',
          { id: 'source', class: 'source-via' },
          'The control plane as etcd sees it, read through ',
          h('strong', null, view.controlPlane.via.name),
          ' (a voter; this node runs no etcd member of its own).',
        )
      : null,
    view.controlPlane.source === 'mesh'
      ? h(
          'p',
          { id: 'source', class: 'source-mesh' },
          h('strong', null, 'View from the mesh.'),
          ' No etcd voter answers this node (or etcd is not running yet): this is what the nodes gossip to each other. It shows who is alive, not whether the control plane has quorum.',
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
    machinesSection(view, nowMs),
    controlPlaneSection(view),
    releasesSection(view),
    rolloutSection(view),
    servicesSection(view),
    timelineSection(view, nowMs),
    linksSection(view),
  ].filter((s): s is VNode => s !== null)
}

/** For the tab title: "Degraded · lab". */
export function pageTitle(view: ClusterView, nowMs: number): string {
  return `${verdict(view, nowMs).headline.split(':')[0]} · homecloud ${view.cluster.name}`
}
