import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import { writeFileAtomic } from '../core/files.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { type CertKeyPaths, pkiPaths, readCertAndKey } from '../pki/store.js'
import { KubeHttpClient } from './api-client.js'
import { clusterDnsDefault, podCidrDefault, serviceCidrDefault } from './args.js'
import { findKubePrograms, findWireguardGo, kubeImagesDir } from './binaries.js'
import { poolManifest } from './metallb/pool.js'
import { podCidrFor } from './node-runner.js'
import type { KubePaths } from './paths.js'
import { listObservedNodes } from './podnet/observe.js'
import { podNetworkAnnotation, wireguardKeyAnnotation } from './podnet/plan.js'
import { PodNetwork } from './podnet/pod-network.js'
import { NodeRuntime } from './runtime/node-runtime.js'
import { runtimePaths } from './runtime/paths.js'

// How a kubelet node's runtime, its pod network and the LAN address pool are put
// together from the agent config (kept out of index.ts, which composes everything else).

export interface PodNetworkInitOf {
  stateDir?: string
  nodeName: string
  host: string
  config: AgentConfig['kube']
}

/** The coordinator applies the LAN address pool from its own config: the file it renders. */
export const lbPool = { dir: 'lb-pool', stateConfigMap: 'homecloud-lb-pool', everyMs: 5000 }

/** Writes the pool manifest (or removes it: no addresses configured) for its keeper. */
export async function writePoolManifest(paths: KubePaths, addresses: readonly string[]): Promise<string> {
  const dir = join(paths.dir, lbPool.dir)
  const text = poolManifest(addresses)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  if (text) await writeFileAtomic(join(dir, 'pool.yaml'), text, 0o600)
  else await rm(join(dir, 'pool.yaml'), { force: true })
  return dir
}

/** kubelet mode: this node's end of the pod network (wireguard-go or plain routes). */
export async function podNetworkFor(
  init: PodNetworkInitOf,
  paths: KubePaths,
  c: { clock: Clock; random?: Random; log: Logger },
  nodeApi: () => Promise<KubeHttpClient | null>,
): Promise<PodNetwork> {
  const pn = init.config.podNetwork
  return new PodNetwork(
    {
      nodeName: init.nodeName,
      address: init.host,
      podCidr: podCidrFor(init.host),
      clusterCidr: podCidrDefault,
      serviceCidr: serviceCidrDefault,
      mode: pn.encrypt ? 'wireguard' : 'plain',
      iface: pn.interface,
      port: pn.port,
      mtu: pn.mtu,
      keyFile: join(paths.dir, 'podnet', 'wireguard.key'),
      pidDir: join(paths.dir, 'run'),
      wireguardGo: pn.encrypt ? await findWireguardGo() : '',
    },
    {
      clock: c.clock,
      ...(c.random ? { random: c.random } : {}),
      log: c.log.child({ component: 'podnet' }),
      listNodes: async () => {
        const api = await nodeApi()
        if (!api) throw new Error('no kubelet certificate yet')
        return listObservedNodes(api)
      },
    },
  )
}

export async function podNetworkAnnotations(
  cfg: AgentConfig['kube'],
  podnet: PodNetwork,
): Promise<Record<string, string>> {
  const key = await podnet.publicKey()
  return {
    [podNetworkAnnotation]: cfg.podNetwork.encrypt ? 'wireguard' : 'plain',
    ...(key ? { [wireguardKeyAnnotation]: key } : {}),
  }
}

/** The API as this node (its kubelet certificate, through the local balancer), for what every node reads itself. */
export function nodeApiFor(
  caPem: () => string | null,
  kubeletCert: CertKeyPaths,
  lb: { host: string; port: number },
): () => Promise<KubeHttpClient | null> {
  return async () => {
    const ca = caPem()
    const pair = ca ? await readCertAndKey(kubeletCert).catch(() => undefined) : undefined
    return ca && pair ? new KubeHttpClient({ ...lb, caPem: ca, ...pair }) : null
  }
}

/** kubelet mode: containerd + kubelet + kube-proxy, and the pod network beside them. */
export async function kubeletParts(o: {
  init: PodNetworkInitOf & { stateDir: string }
  paths: KubePaths
  kubelet: string
  c: { clock: Clock; random?: Random; log: Logger }
  nodeApi: () => Promise<KubeHttpClient | null>
}): Promise<{ runtime: NodeRuntime; podnet: PodNetwork }> {
  const cfg = o.init.config
  const pki = pkiPaths(o.init.stateDir)
  const podnet = await podNetworkFor(o.init, o.paths, o.c, o.nodeApi)
  const kubeProxy = await findKubePrograms(['kube-proxy']).catch((err: Error) => {
    o.c.log.warn({ err: err.message }, 'no kube-proxy: Services are not routed on this node')
    return null
  })
  const runtime = new NodeRuntime(
    {
      nodeName: o.init.nodeName,
      address: o.init.host,
      caCert: o.paths.caCert,
      serving: pki.profile('kubelet-serving'),
      kubeconfig: o.paths.nodeKubeconfig,
      paths: runtimePaths(o.paths.dir),
      clusterDns: clusterDnsDefault,
      cgroupRoot: cfg.runtime.cgroupRoot,
      podCidr: podCidrFor(o.init.host),
      sandboxImage: cfg.runtime.sandboxImage,
      cniBinDirs: cfg.runtime.cniBinDirs,
      imageDirs: [kubeImagesDir(), ...cfg.runtime.imageDirs],
      programs: { kubelet: o.kubelet, containerd: cfg.runtime.containerd, ctr: cfg.runtime.ctr },
      ...(cfg.podNetwork.encrypt ? { podMtu: cfg.podNetwork.mtu } : {}),
      ...(kubeProxy ? { kubeProxy: { binary: kubeProxy['kube-proxy'], clusterCidr: podCidrDefault } } : {}),
    },
    { clock: o.c.clock, log: o.c.log },
  )
  return { runtime, podnet }
}
