import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AgentConfig } from '../config/schema.js'
import type { Logger } from '../core/log.js'
import { clientUrlOf } from '../etcd/spec.js'
import type { pkiPaths } from '../pki/store.js'
import { AddonKeeper } from './addons/keeper.js'
import { findKubePrograms, kubeBinDir } from './binaries.js'
import { KubeControlPlane } from './control-plane.js'
import type { KubeComponents, KubeInit } from './kube-init.js'
import { kwokRbac } from './kwok-rbac.js'
import { KubeNode, podCidrFor } from './node-runner.js'
import type { KubePaths } from './paths.js'
import type { PodNetwork } from './podnet/pod-network.js'
import type { NodeRuntime } from './runtime/node-runtime.js'
import { lbPool, podNetworkAnnotations, writePoolManifest } from './services-wiring.js'

// The parts Kube.create puts together (index.ts), one function each: the programs this
// node has, its Node, its control plane, the add-on keepers.

/** What every part is made from. */
export interface KubeParts {
  init: KubeInit
  c: KubeComponents
  cfg: AgentConfig['kube']
  log: Logger
  paths: KubePaths
  pki: ReturnType<typeof pkiPaths>
  lbAddr: { host: string; port: number }
  manifests: string
}

export type KubePrograms = Record<string, string> &
  Record<'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler', string>

/** The node programs its mode needs (kwok or kubelet), and the control plane's when present. */
export async function findPrograms(cfg: AgentConfig['kube'], log: Logger): Promise<KubePrograms> {
  const nodePrograms = await findKubePrograms([
    ...(cfg.kubelet === 'kwok' ? (['kwok'] as const) : []),
    ...(cfg.kubelet === 'kubelet' ? (['kubelet'] as const) : []),
  ])
  // A worker image (the netboot image carries only the kubelet) has no control-plane
  // programs: it still runs its Node; were it ever made a voter, starting the API server
  // fails with KUBE_NOT_INSTALLED in the log, and the balancers skip it as unhealthy.
  const cpNames = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const
  const cpPrograms = await findKubePrograms(cpNames).catch((err: Error) => {
    log.warn({ err: err.message }, 'no Kubernetes control-plane programs here: this node runs its Node only')
    return Object.fromEntries(cpNames.map((n) => [n, join(kubeBinDir(), n)])) as Record<
      (typeof cpNames)[number],
      string
    >
  })
  return { ...nodePrograms, ...cpPrograms }
}

export function nodePart(
  p: KubeParts,
  programs: KubePrograms,
  runtime: NodeRuntime | undefined,
  podnet: PodNetwork | null,
): KubeNode {
  const { init, c, cfg, log, paths, pki, lbAddr, manifests } = p
  return new KubeNode(
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
}

export function controlPlanePart(p: KubeParts, programs: KubePrograms): KubeControlPlane {
  const { init, c, cfg, log, paths, lbAddr } = p
  return new KubeControlPlane(
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
      etcdEpoch: c.etcdEpoch,
    },
  )
}

/** The add-ons, kwok's RBAC (kwok labs) and the LAN address pool: what the coordinator applies. */
export async function keeperParts(
  p: KubeParts,
): Promise<{ keepers: AddonKeeper[]; mayApply: () => boolean }> {
  const { c, cfg, log, paths, manifests } = p
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
  return { keepers: [addons, rbac, pool].filter((k) => k !== null), mayApply }
}
