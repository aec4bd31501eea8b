import { controlPlaneComponent, kubeComponent } from './components/control.js'
import { buildNetwork, mdnsComponent } from './components/network.js'
import { openNode, RoleBoard, readFacts } from './components/node.js'
import { rolloutPart } from './components/rollout.js'
import type { StopRequest } from './components/shutdown-routes.js'
import { surfaceComponents } from './components/surface.js'
import type { AgentConfig } from './config/schema.js'
import { type Clock, systemClock } from './core/clock.js'
import { type Component, startInOrder } from './core/lifecycle.js'
import { type Random, systemRandom } from './core/random.js'
import { createTrust, loadTrust } from './trust/setup.js'

export { defaultHost } from './components/node.js'

export interface RunningAgent {
  id: string
  /** `drain`: a shutdown on purpose (SIGTERM), so the node drains itself first when configured to. */
  stop(o?: { drain?: boolean }): Promise<void>
  /** Resolves when the agent asks for its machine to boot again (a boot-slot change). */
  restartRequested: Promise<void>
  /** Resolves when `homecloud shutdown` drained this node: stop, then power off when told. */
  stopRequested: Promise<StopRequest>
}

/**
 * The composition root, in the order things start: this node (identity, logger,
 * counters) → what it holds about trust → hardware facts → the mesh and its two faces
 * (peers, router) → the trust protocols on those faces → the control plane →
 * Kubernetes → mDNS → the status page, netboot and the 7443 API. Components depend on
 * the mesh's faces, never on each other's internals; they stop in reverse order.
 */
export async function startAgent(
  stateDir: string,
  config: AgentConfig,
  clock: Clock = systemClock(),
  random: Random = systemRandom(),
): Promise<RunningAgent> {
  const n = await openNode(stateDir, config, clock, random)
  const loaded = await loadTrust(stateDir, clock)
  const { cluster, book } = loaded
  n.log.info(
    {
      state: stateDir,
      created: n.created,
      cluster: cluster.id,
      host: n.host,
      name: n.name,
      status: loaded.saved.node ? 'member' : 'joining',
    },
    'agent starting',
  )
  const facts = await readFacts(n)
  const roles = new RoleBoard()

  const { mesh, transport, component: network } = await buildNetwork(n, loaded, facts, roles)
  const trust = createTrust(loaded, {
    ...n,
    nodeName: n.name,
    peers: mesh.peers,
    router: mesh.router,
    onRevoked: (ids) => mesh.expel(ids),
    reachPeer: (peer, forMs) => mesh.reachPeer(peer, forMs),
    hold: (id, forMs) => mesh.reach(id, forMs),
  })
  const cp = config.controlPlane.enabled
    ? controlPlaneComponent(n, cluster.id, trust, book, mesh, roles)
    : null
  const controlPlane = cp?.controlPlane ?? null
  const kube = config.kube.enabled ? kubeComponent(n, facts, trust, book, mesh, controlPlane, roles) : null

  const slots = rolloutPart(n, { clusterId: cluster.id, trust, book, mesh, controlPlane })

  const components: Component[] = [
    network,
    { name: 'trust', start: () => trust.start(), stop: () => trust.stop() },
    ...(cp ? [cp.component] : []),
    ...(kube ? [kube] : []),
    ...(config.mdns ? [mdnsComponent(n, cluster.id, transport)] : []),
    ...surfaceComponents(n, {
      clusterId: cluster.id,
      trust,
      book,
      mesh,
      transport,
      controlPlane,
      lanServices: () => kube?.lanServices() ?? null,
      kube,
      facts,
      register: (app, guards) => slots.register(app, guards),
      onReleases: (r) => slots.setReleases(r),
      rollout: () => slots.view(),
    }),
    slots.component,
  ]
  const started = await startInOrder(components, n.log)
  n.events.add({
    atMs: clock.nowMs(),
    kind: 'started',
    id: n.identity.id,
    name: n.name,
    message: `${n.name} started (incarnation ${mesh.selfIncarnation})`,
  })
  return {
    id: n.identity.id,
    restartRequested: slots.restartRequested,
    stopRequested: slots.stopRequested,
    stop: async (o = {}) => {
      if (o.drain) await slots.beforeShutdown()
      n.log.info('agent stopping')
      return started.stop()
    },
  }
}
