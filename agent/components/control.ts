import { ControlPlane } from '../controlplane/index.js'
import type { Component } from '../core/lifecycle.js'
import type { Facts } from '../facts/index.js'
import type { Kube } from '../kube/index.js'
import type { LanService } from '../kube/metallb/lan-services.js'
import type { KubeNodesRead } from '../kube/nodes-reader.js'
import type { Mesh } from '../mesh/mesh.js'
import type { CertBook } from '../trust/cert-book.js'
import type { Trust } from '../trust/trust.js'
import type { NodeBase, RoleBoard } from './node.js'

/** This node's etcd member, its seat in the coordinator election, the coordinator and the status view. */
export function controlPlaneComponent(
  n: NodeBase,
  clusterId: string,
  trust: Trust,
  book: CertBook,
  mesh: Pick<Mesh, 'peers' | 'router' | 'reach'>,
  roles: RoleBoard,
): { controlPlane: ControlPlane; component: Component } {
  const controlPlane = new ControlPlane(
    {
      stateDir: n.stateDir,
      nodeId: n.identity.id,
      identity: n.identity,
      clusterId,
      address: n.host,
      config: n.config.controlPlane,
    },
    {
      clock: n.clock,
      random: n.random,
      log: n.log,
      events: n.events,
      counters: n.counters,
      trust,
      caPem: () => book.ca,
      isRevoked: (id) => book.isRevoked(id),
      peers: mesh.peers,
      router: mesh.router,
      reach: (id) => mesh.reach(id),
    },
  )
  roles.add(() => controlPlane.roles())
  return {
    controlPlane,
    component: {
      name: 'control-plane',
      start: () => controlPlane.start(),
      stop: () => controlPlane.stop(),
    },
  }
}

/** Kubernetes on this node (loaded only when enabled: it pulls in the Kubernetes client). */
export function kubeComponent(
  n: NodeBase,
  facts: Facts,
  trust: Trust,
  book: CertBook,
  mesh: Mesh,
  controlPlane: ControlPlane | null,
  roles: RoleBoard,
): Component & { lanServices(): LanService[] | null; nodesView(): KubeNodesRead | null } {
  let kube: Kube | null = null
  roles.add(() => kube?.roles() ?? [])
  return {
    name: 'kube',
    lanServices: () => kube?.lanServices() ?? null,
    async start() {
      const { startKube } = await import('../kube/start.js')
      kube = await startKube({
        stateDir: n.stateDir,
        identity: n.identity,
        name: n.name,
        host: n.host,
        config: n.config,
        facts,
        clock: n.clock,
        random: n.random,
        log: n.log,
        trust,
        book,
        peers: mesh.peers,
        controlPlane,
        events: n.events,
      })
    },
    async stop() {
      await kube?.stop()
    },
    /** The Kubernetes Nodes this node read (a voter with admin rights), for the status page. */
    nodesView: () => kube?.nodesView() ?? null,
  }
}
