import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import { writeFileAtomic } from '../core/files.js'
import type { Logger } from '../core/log.js'
import type { KubeApi } from './api-client.js'
import { podCidrDefault, serviceCidrDefault } from './args.js'
import { findWireguardGo } from './binaries.js'
import { poolManifest } from './metallb/pool.js'
import { podCidrFor } from './node-runner.js'
import type { KubePaths } from './paths.js'
import { listObservedNodes } from './podnet/observe.js'
import { podNetworkAnnotation, wireguardKeyAnnotation } from './podnet/plan.js'
import { PodNetwork } from './podnet/pod-network.js'

// How the pod network and the LAN address pool are put together from the agent config
// (kept out of index.ts, which composes everything else).

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
  c: { clock: Clock; log: Logger },
  nodeApi: () => Promise<KubeApi | null>,
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
