import { join } from 'node:path'
import { packageRoot } from '../core/package-root.js'
import { systemRandom } from '../core/random.js'
import type { Role } from '../mesh/record.js'
import { pkiPaths } from '../pki/store.js'
import type { AddonKeeper } from './addons/keeper.js'
import { ClusterDuties } from './cluster-duties.js'
import { controlPlanePart, findPrograms, type KubeParts, keeperParts, nodePart } from './compose.js'
import type { KubeControlPlane } from './control-plane.js'
import type { KubeComponents, KubeInit } from './kube-init.js'
import { LoadBalancer } from './lb/proxy.js'
import type { LanService } from './metallb/lan-services.js'
import { LanServicesWatch } from './metallb/lan-watch.js'
import { NodeLifecycle } from './node-lifecycle.js'
import type { KubeNode } from './node-runner.js'
import { type KubeNodesRead, NodesReader } from './nodes-reader.js'
import { kubePaths } from './paths.js'
import type { PodNetwork, PodNetworkStatus } from './podnet/pod-network.js'
import { kubeletParts, nodeApiFor } from './services-wiring.js'

// Kubernetes on this node, composed: the local API load balancer (every node), the Node
// (every node), the control plane (while an etcd voter) and the coordinator's duties.

export type { KubeComponents, KubeInit, VoterNode } from './kube-init.js'

export interface KubeStatus {
  lb: ReturnType<LoadBalancer['status']>
  node: ReturnType<KubeNode['status']>
  controlPlane: Record<string, string>
  podNetwork: PodNetworkStatus | null
  /** Services answering on the LAN and the node answering each; null before the first read. */
  services: LanService[] | null
}

/** Other parts, beside the ones every node has. */
interface KubeExtras {
  podnet: PodNetwork | null
  lanWatch: LanServicesWatch
  /** Every Node, read by a voter for the status page. */
  nodes: NodesReader
}

export { kwokRbac } from './kwok-rbac.js'

/** Loopback labs share 127.0.0.1: each node's balancer listens on its own address there. */
export function lbHostFor(host: string, configured: string | undefined): string {
  return configured ?? (host.startsWith('127.') ? host : '127.0.0.1')
}

export class Kube {
  private constructor(
    private readonly lb: LoadBalancer,
    private readonly node: KubeNode,
    private readonly cp: KubeControlPlane,
    private readonly duties: ClusterDuties,
    /** The add-ons and, in kwok labs, kwok's RBAC. */
    private readonly keepers: AddonKeeper[],
    private readonly lifecycle: NodeLifecycle,
    private readonly extras: KubeExtras,
  ) {}

  static async create(init: KubeInit, c: KubeComponents): Promise<Kube> {
    const cfg = init.config
    const log = c.log.child({ component: 'kube' })
    const programs = await findPrograms(cfg, log)
    const paths = kubePaths(init.stateDir)
    const lbAddr = { host: lbHostFor(init.host, cfg.lb.host), port: cfg.lb.port }
    const parts: KubeParts = {
      init,
      c,
      cfg,
      log,
      paths,
      pki: pkiPaths(init.stateDir),
      lbAddr,
      manifests: join(packageRoot(), 'manifests'),
    }
    const lb = new LoadBalancer(
      { ...lbAddr, healthMs: cfg.lb.healthMs },
      {
        clock: c.clock,
        random: c.random,
        log,
        caPem: c.caPem,
        backends: () => c.voters().map((v) => ({ host: v.address, port: cfg.apiPort })),
      },
    )
    const nodeApi = nodeApiFor(c.caPem, parts.pki.profile('kubelet'), lbAddr)
    const { runtime, podnet } =
      cfg.kubelet === 'kubelet'
        ? await kubeletParts({
            init,
            paths,
            kubelet: programs.kubelet!,
            c: { clock: c.clock, random: c.random, log },
            nodeApi,
          })
        : { runtime: undefined, podnet: null }
    const duties = new ClusterDuties(
      { paths, lb: lbAddr, taintControlPlane: cfg.taintControlPlane },
      {
        clock: c.clock,
        random: c.random,
        log,
        isCoordinator: c.isCoordinator,
        controlPlaneNames: () => c.voters().map((v) => v.name),
      },
    )
    const { keepers, mayApply } = await keeperParts(parts)
    const lifecycle = new NodeLifecycle(
      { kubeconfigPath: paths.adminKubeconfig, policy: cfg.nodes },
      {
        clock: c.clock,
        random: c.random,
        log,
        events: c.events,
        mayAct: mayApply,
        mesh: c.mesh,
      },
    )
    const nodes = new NodesReader(
      { adminKubeconfig: paths.adminKubeconfig, lb: lbAddr },
      { clock: c.clock, random: c.random ?? systemRandom(), log, isVoter: c.isVoter },
    )
    return new Kube(
      lb,
      nodePart(parts, programs, runtime, podnet),
      controlPlanePart(parts, programs),
      duties,
      keepers,
      lifecycle,
      { podnet, lanWatch: new LanServicesWatch({ clock: c.clock, log, api: nodeApi }), nodes },
    )
  }

  async start(): Promise<void> {
    await this.lb.start()
    this.cp.start()
    this.node.start()
    this.duties.start()
    for (const k of this.keepers) k.start()
    this.lifecycle.start()
    this.extras.podnet?.start()
    this.extras.lanWatch.start()
    this.extras.nodes.start()
  }

  async stop(): Promise<void> {
    await Promise.all([
      this.duties.stop(),
      ...this.keepers.map((k) => k.stop()),
      this.lifecycle.stop(),
      this.extras.lanWatch.stop(),
      this.extras.nodes.stop(),
      this.extras.podnet?.stop(),
    ])
    await this.node.stop()
    await this.cp.stop()
    await this.lb.stop()
  }

  /** `control-plane` while this node runs the Kubernetes control plane. */
  roles(): Role[] {
    return this.cp.running ? ['control-plane'] : []
  }

  /** Every Kubernetes Node, read recently by this voter; null on a worker or when the API did not answer. */
  nodesView(): KubeNodesRead | null {
    return this.extras.nodes.current()
  }

  status(): KubeStatus {
    return {
      lb: this.lb.status(),
      node: this.node.status(),
      controlPlane: this.cp.status(),
      podNetwork: this.extras.podnet?.status() ?? null,
      services: this.extras.lanWatch.services(),
    }
  }

  /** Services answering on the LAN (for the status view); null before the first read. */
  lanServices(): LanService[] | null {
    return this.extras.lanWatch.services()
  }
}
