import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock } from '../agent/core/clock.js'
import { HomecloudError } from '../agent/core/errors.js'
import { loadOrCreateIdentity } from '../agent/identity/identity.js'
import { writeInitialReleaseKeys } from '../agent/release/writes.js'
import { statePaths } from '../agent/state/paths.js'
import { foundCluster } from '../agent/trust/founding.js'
import { readJoinMaterial, writeJoinMaterial } from '../agent/trust/join-material.js'
import { labPassword } from './access.js'
import { loopbackAddress, netnsAddress, nodeName } from './boards.js'
import { labCgroupRoot } from './kubelet-node.js'
import type { LabFile, LabNode } from './lab-file.js'
import { labReleaseKey } from './netboot/release.js'
import { labNetworkAdapter } from './network.js'
import { spawnAgent } from './processes.js'
import { provisionSlots } from './slots.js'

// Starting one lab node: its state directory, identity, founding or join material, its
// agent config, and the agent process itself.

const DHT_PORT = 49737

/** How the founder founds the cluster (the first node only). */
export interface FoundingOptions {
  joinPolicy?: 'auto' | 'approve'
  certValidityMs?: number
  progress?: (line: string) => void
}

export function nodeDir(lab: Pick<LabFile, 'dir'>, name: string): string {
  return join(lab.dir, 'nodes', name)
}

/**
 * A namespace lab's LoadBalancer Services get addresses on its bridge: 10.77.<lab>.64/27,
 * above the nodes (.2 upwards) and below the netboot router's DHCP range (.100–.250).
 */
export function labLoadBalancerRange(labIndex: number): string {
  return `10.77.${labIndex}.64/27`
}

function labKubeExtras(lab: LabFile): Record<string, unknown> {
  return lab.mode === 'netns' ? { loadBalancer: { addresses: [labLoadBalancerRange(lab.index)] } } : {}
}

export async function startNewNode(
  lab: LabFile,
  board: string,
  slot: number,
  extra: Record<string, unknown> = {},
  founding: FoundingOptions = {},
  kubelet = false,
): Promise<LabNode> {
  const name = nodeName(board, slot)
  const cgroupRoot = kubelet ? labCgroupRoot(lab.index, name) : undefined
  const address = lab.mode === 'netns' ? netnsAddress(lab.index, slot) : loopbackAddress(lab.index, slot)
  const dir = nodeDir(lab, name)
  const stateDir = join(dir, 'state')
  await mkdir(stateDir, { recursive: true, mode: 0o700 })
  // Identities are made up front so later nodes can be handed the keys of earlier ones.
  const { identity } = await loadOrCreateIdentity(statePaths(stateDir).identityKey)
  await provisionNode(lab, name, address, stateDir, founding)
  const config = nodeConfig(lab, { name, board, slot, address, cgroupRoot }, extra)
  // A slotted node (`lab up --slots`): its slot a holds the lab's release, booted by the lab firmware.
  const slotsDir = lab.slots ? await provisionSlots(lab.slots.releaseDir, join(dir, 'slots')) : undefined
  const slots = slotsDir ? { slots: { backend: 'lab', dir: slotsDir } } : {}
  await writeFile(join(dir, 'config.json'), `${JSON.stringify({ ...config, ...slots }, null, 2)}\n`)
  const node: LabNode = {
    name,
    board,
    slot,
    address,
    stateDir,
    pid: null,
    key: identity.publicKey.toString('hex'),
    ...(cgroupRoot ? { kubelet: { cgroupRoot } } : {}),
    ...(slotsDir ? { slotsDir } : {}),
  }
  node.pid = launch(lab, node)
  lab.nodes.push(node)
  return node
}

/**
 * The lab provisions each node as a netboot server would: the first founds the cluster
 * (CA, join secret); every later one gets join material and joins by itself.
 */
async function provisionNode(
  lab: LabFile,
  name: string,
  address: string,
  stateDir: string,
  founding: FoundingOptions,
): Promise<void> {
  if (lab.nodes.length === 0) {
    const founded = await foundCluster({
      stateDir,
      clusterName: lab.clusterName,
      nodeName: name,
      host: address,
      joinPolicy: founding.joinPolicy ?? 'auto',
      certValidityMs: founding.certValidityMs,
      uiPassword: await labPassword(lab.dir),
      clock: systemClock(),
    })
    lab.clusterId = founded.clusterId
    founding.progress?.(`${name} founded cluster ${lab.clusterName} (${founded.clusterId})`)
    await copyFile(founded.adminConfig, join(lab.dir, 'admin.json'))
    // Every lab trusts its own release key (lab/netboot/release.ts publishes with it).
    await writeInitialReleaseKeys(stateDir, founded.clusterId, [(await labReleaseKey(lab.dir)).publicHex])
  } else {
    const founder = lab.nodes[0]!
    const material = await readJoinMaterial(statePaths(founder.stateDir).joinFile)
    if (!material) throw new HomecloudError('LAB_INVALID', `the founder ${founder.name} has no join material`)
    await writeJoinMaterial(statePaths(stateDir).joinFile, {
      ...material,
      // In namespaces nodes find each other by mDNS alone, as on a real LAN.
      bootstrap: lab.mode === 'netns' ? [] : lab.nodes.map((n) => `${n.key}@${n.address}:${DHT_PORT}`),
    })
  }
}

type KubeExtra = { runtime?: object; podNetwork?: object } & Record<string, unknown>

/**
 * A lab node's kube settings (null: the lab runs no Kubernetes and this is no kubelet node):
 * the lab's, a test's own on top of them, then what a real kubelet node must have.
 */
function nodeKube(
  lab: LabFile,
  n: { slot: number; address: string; cgroupRoot: string | undefined },
  extraKube: KubeExtra | undefined,
): Record<string, unknown> | null {
  if (!lab.kube && !n.cgroupRoot) return null
  // All loopback nodes share 127.0.0.1: each node's API load balancer listens on its own address.
  const lb = { host: n.address }
  const kube = { enabled: true, kubelet: 'kwok', lb, ...labKubeExtras(lab), ...extraKube }
  if (!n.cgroupRoot) return kube
  return {
    ...kube,
    enabled: true,
    kubelet: 'kubelet',
    lb,
    runtime: { ...(extraKube?.runtime ?? {}), cgroupRoot: n.cgroupRoot },
    // wireguard-go names its control socket in /var/run/wireguard after the device:
    // lab nodes share that directory, so each gets its own device name.
    podNetwork: { interface: `hw${lab.index}n${n.slot}`, ...extraKube?.podNetwork },
  }
}

/** The node's agent config: the lab's mode, Kubernetes and netboot, then the caller's extras. */
export function nodeConfig(
  lab: LabFile,
  n: { name: string; board: string; slot: number; address: string; cgroupRoot: string | undefined },
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const { name, board, address } = n
  // Loopback has no multicast between addresses, so loopback nodes start from the
  // nodes already running; in namespaces they find each other with mDNS alone.
  const bootstrap = lab.mode === 'netns' ? [] : lab.nodes.map((n) => `${n.key}@${n.address}:${DHT_PORT}`)
  const extraBootstrap = Array.isArray(extra.bootstrap) ? (extra.bootstrap as string[]) : []
  const kube = nodeKube(lab, n, extra.kube as KubeExtra | undefined)
  return {
    host: address,
    name,
    board,
    mdns: lab.mode === 'netns',
    fsyncProbe: false,
    ...extra,
    ...(kube ? { kube } : {}),
    // Tests may set netboot options (adoption, known MACs) on top of the lab's image.
    ...(lab.netboot
      ? {
          netboot: {
            // No image directory: each node serves the lab's current release from its own store.
            enabled: true,
            ...(extra.netboot as object | undefined),
          },
        }
      : {}),
    bootstrap: [...bootstrap, ...extraBootstrap],
  }
}

export function launch(lab: LabFile, node: LabNode): number {
  const dir = nodeDir(lab, node.name)
  return spawnAgent({
    labDir: lab.dir,
    stateDir: node.stateDir,
    configPath: join(dir, 'config.json'),
    logPath: join(dir, 'agent.log'),
    netns: lab.mode === 'netns' ? labNetworkAdapter.namespace(lab.index, node.slot) : undefined,
    netOnly: !!node.kubelet,
    ...(node.slotsDir ? { slotsDir: node.slotsDir } : {}),
  })
}
