import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { MeshNodeState } from '../../control/nodes/reconcile.js'
import type { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import { packageRoot } from '../core/package-root.js'
import { type Random, systemRandom } from '../core/random.js'
import { clientUrlOf } from '../etcd/spec.js'
import type { Role } from '../mesh/record.js'
import type { CaMaterial } from '../pki/ca.js'
import { pkiPaths } from '../pki/store.js'
import type { NodeProfile } from '../trust/node-profile.js'
import { AddonKeeper } from './addons/keeper.js'
import { findKubePrograms, kubeBinDir } from './binaries.js'
import { ClusterDuties } from './cluster-duties.js'
import { KubeControlPlane } from './control-plane.js'
import { LoadBalancer } from './lb/proxy.js'
import type { LanService } from './metallb/lan-services.js'
import { LanServicesWatch } from './metallb/lan-watch.js'
import { NodeLifecycle } from './node-lifecycle.js'
import type { NodeFacts } from './node-object.js'
import { KubeNode, podCidrFor } from './node-runner.js'
import { type KubeNodesRead, NodesReader } from './nodes-reader.js'
import { kubePaths } from './paths.js'
import type { PodNetwork, PodNetworkStatus } from './podnet/pod-network.js'
import {
  kubeletParts,
  lbPool,
  nodeApiFor,
  podNetworkAnnotations,
  writePoolManifest,
} from './services-wiring.js'

// Kubernetes on this node, composed: the local API load balancer (every node), the Node
// (every node), the control plane (while an etcd voter) and the coordinator's duties.

export interface KubeInit {
  stateDir: string
  nodeId: string
  nodeName: string
  host: string
  config: AgentConfig['kube']
  facts: NodeFacts
  etcdClientPort: number
}

export interface VoterNode {
  name: string
  address: string
}

export interface KubeComponents {
  clock: Clock
  /** Jitter and choices of every loop below; default the system source. */
  random?: Random
  log: Logger
  caPem(): string | null
  ca(): CaMaterial | null
  requestCertificate(profile: NodeProfile): Promise<{ certPem: string; keyPem: string }>
  isVoter(): boolean
  isCoordinator(): boolean
  /** The etcd voters now (alive or suspect), this node included when it is one. */
  voters(): VoterNode[]
  /** The mesh's view of a node, by id or name (dead-node handling). */
  mesh(idOrName: string): MeshNodeState | undefined
  events?: EventLog
}

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

/**
 * kwok's RBAC: its manifests directory (under manifests/) and the ConfigMap recording it,
 * its own since a keeper forgets files missing from its directory. Tried every `retryMs`
 * until first applied (the coordinator's duties tick): kwok's Nodes wait for it.
 */
export const kwokRbac = { dir: 'kwok-rbac', stateConfigMap: 'homecloud-kwok-rbac', retryMs: 3000 }

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
    const nodePrograms = await findKubePrograms([
      ...(cfg.kubelet === 'kwok' ? (['kwok'] as const) : []),
      ...(cfg.kubelet === 'kubelet' ? (['kubelet'] as const) : []),
    ])
    // A worker image (the netboot image carries only the kubelet) has no control-plane
    // programs: it still runs its Node; were it ever made a voter, starting the API server
    // fails with KUBE_NOT_INSTALLED in the log, and the balancers skip it as unhealthy.
    const cpNames = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const
    const cpPrograms = await findKubePrograms(cpNames).catch((err: Error) => {
      log.warn(
        { err: err.message },
        'no Kubernetes control-plane programs here: this node runs its Node only',
      )
      return Object.fromEntries(cpNames.map((n) => [n, join(kubeBinDir(), n)])) as Record<
        (typeof cpNames)[number],
        string
      >
    })
    const programs = { ...nodePrograms, ...cpPrograms }
    const paths = kubePaths(init.stateDir)
    const pki = pkiPaths(init.stateDir)
    const lbAddr = { host: lbHostFor(init.host, cfg.lb.host), port: cfg.lb.port }
    const manifests = join(packageRoot(), 'manifests')
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
    const nodeApi = nodeApiFor(c.caPem, pki.profile('kubelet'), lbAddr)
    const { runtime, podnet } =
      cfg.kubelet === 'kubelet'
        ? await kubeletParts({
            init,
            paths,
            kubelet: (programs as Record<string, string>).kubelet!,
            c: { clock: c.clock, random: c.random, log },
            nodeApi,
          })
        : { runtime: undefined, podnet: null }
    const node = new KubeNode(
      {
        paths,
        certs: {
          kubelet: pki.profile('kubelet'),
          'kubelet-serving': pki.profile('kubelet-serving'),
          kwok: pki.profile('kwok'),
        },
        facts: init.facts,
        mode: cfg.kubelet,
        lb: lbAddr,
        ...(runtime ? { runtime, podCidr: podCidrFor(init.host) } : {}),
        ...(podnet ? { annotations: () => podNetworkAnnotations(cfg, podnet) } : {}),
        ...(cfg.kubelet === 'kwok'
          ? {
              kwok: {
                binary: (programs as Record<string, string>).kwok!,
                stagesFile: join(manifests, 'kwok', 'stages.yaml'),
                leaseSeconds: cfg.nodeLeaseSeconds,
                podCidr: podCidrFor(init.host),
              },
            }
          : {}),
      },
      { clock: c.clock, random: c.random, log, caPem: c.caPem, requestCertificate: c.requestCertificate },
    )
    const cp = new KubeControlPlane(
      {
        paths,
        nodeId: init.nodeId,
        nodeName: init.nodeName,
        address: init.host,
        apiPort: cfg.apiPort,
        advertise: cfg.advertise,
        nodeMonitorGracePeriodSeconds: cfg.nodeMonitorGracePeriodSeconds,
        lb: lbAddr,
        programs: {
          apiserver: programs['kube-apiserver'],
          controllerManager: programs['kube-controller-manager'],
          scheduler: programs['kube-scheduler'],
        },
      },
      {
        clock: c.clock,
        random: c.random,
        log,
        isVoter: c.isVoter,
        ca: c.ca,
        etcdServers: () => {
          const others = c.voters().filter((v) => v.address !== init.host)
          return [init.host, ...others.map((v) => v.address)].map((a) => clientUrlOf(a, init.etcdClientPort))
        },
      },
    )
    const duties = new ClusterDuties(
      {
        paths,
        lb: lbAddr,
        taintControlPlane: cfg.taintControlPlane,
      },
      {
        clock: c.clock,
        random: c.random,
        log,
        isCoordinator: c.isCoordinator,
        controlPlaneNames: () => c.voters().map((v) => v.name),
      },
    )
    // The add-ons, applied by the coordinator only, once it has an admin kubeconfig
    // (written when this node became a voter). client-node loads on the first pass.
    const mayApply = () => c.isCoordinator() && existsSync(paths.adminKubeconfig)
    const addons = cfg.addons
      ? new AddonKeeper({
          kubeconfigPath: paths.adminKubeconfig,
          dir: join(manifests, 'addons'),
          log,
          clock: c.clock,
          random: c.random,
          mayAct: mayApply,
        })
      : null
    // kwok's RBAC, applied the same way (server-side apply), from its own directory.
    const rbac =
      cfg.kubelet === 'kwok'
        ? new AddonKeeper({
            kubeconfigPath: paths.adminKubeconfig,
            dir: join(manifests, kwokRbac.dir),
            stateConfigMap: kwokRbac.stateConfigMap,
            log: log.child({ manifests: kwokRbac.dir }),
            clock: c.clock,
            random: c.random,
            retryMs: kwokRbac.retryMs,
            mayAct: mayApply,
          })
        : null
    // The LAN address pool for LoadBalancer Services, from the coordinator's config.
    const pool = cfg.addons
      ? new AddonKeeper({
          kubeconfigPath: paths.adminKubeconfig,
          dir: await writePoolManifest(paths, cfg.loadBalancer.addresses),
          stateConfigMap: lbPool.stateConfigMap,
          log: log.child({ manifests: lbPool.dir }),
          clock: c.clock,
          everyMs: lbPool.everyMs,
          mayAct: mayApply,
        })
      : null
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
      node,
      cp,
      duties,
      [addons, rbac, pool].filter((k) => k !== null),
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
