import { type Cidr, cidrContains, cidrsOverlap, formatCidr, parseCidr, parseIpv4 } from './cidr.js'
import { parseWireguardKey } from './keys.js'

// Which peers and routes this node's pod network needs (pure). Every kubelet node publishes
// on its own Node how it takes part (annotation `homecloud.dev/pod-network`: `wireguard`
// with its public key, or `plain`); its InternalIP and spec.podCIDR say where. A node that
// publishes nothing (kwok stand-ins, a node still starting) is skipped with a reason.

export const podNetworkAnnotation = 'homecloud.dev/pod-network'
export const wireguardKeyAnnotation = 'homecloud.dev/wireguard-key'

export type PodNetworkMode = 'wireguard' | 'plain'

export interface ObservedNode {
  name: string
  internalIp?: string
  podCidr?: string
  annotations: Record<string, string>
}

export interface PlannedPeer {
  name: string
  podCidr: string
  address: string
  /** wireguard mode: the peer's public key, 32 bytes. */
  publicKey?: Buffer
}

export interface PodNetPlan {
  mode: PodNetworkMode
  peers: PlannedPeer[]
  skipped: { name: string; reason: string }[]
}

export interface PlanInput {
  self: { name: string; podCidr: string }
  mode: PodNetworkMode
  clusterCidr: string
  nodes: readonly ObservedNode[]
}

export function planPodNetwork(input: PlanInput): PodNetPlan {
  const cluster = parseCidr(input.clusterCidr)
  const own = parseCidr(input.self.podCidr)
  if (!cluster || !own) throw new Error(`bad pod ranges: ${input.clusterCidr}, ${input.self.podCidr}`)
  const peers: PlannedPeer[] = []
  const taken: { cidr: Cidr; name: string }[] = [{ cidr: own, name: input.self.name }]
  const skipped: PodNetPlan['skipped'] = []
  const sorted = [...input.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const n of sorted) {
    if (n.name === input.self.name) continue
    const verdict = judge(n, input.mode, cluster, taken)
    if (typeof verdict === 'string') {
      skipped.push({ name: n.name, reason: verdict })
      continue
    }
    taken.push({ cidr: verdict.cidr, name: n.name })
    peers.push(verdict.peer)
  }
  return { mode: input.mode, peers, skipped }
}

function judge(
  n: ObservedNode,
  mode: PodNetworkMode,
  cluster: Cidr,
  taken: readonly { cidr: Cidr; name: string }[],
): string | { peer: PlannedPeer; cidr: Cidr } {
  const theirs = n.annotations[podNetworkAnnotation]
  if (theirs === undefined) return 'takes no part in the pod network (no kubelet, or not started yet)'
  if (theirs !== mode) return `its pod network is ${theirs}, this node's is ${mode}`
  if (!n.internalIp || parseIpv4(n.internalIp) === null) return 'no InternalIP address'
  const cidr = n.podCidr ? parseCidr(n.podCidr) : null
  if (!cidr) return n.podCidr ? `pod range ${n.podCidr} is not a network` : 'no pod range yet'
  if (!cidrContains(cluster, cidr)) return `pod range ${n.podCidr} is outside ${formatCidr(cluster)}`
  const clash = taken.find((t) => cidrsOverlap(t.cidr, cidr))
  if (clash) return `pod range ${n.podCidr} overlaps ${clash.name}'s`
  const peer: PlannedPeer = { name: n.name, podCidr: formatCidr(cidr), address: n.internalIp }
  if (mode === 'wireguard') {
    const key = parseWireguardKey(n.annotations[wireguardKeyAnnotation] ?? '')
    if (!key) return 'no valid WireGuard public key on its Node'
    peer.publicKey = key
  }
  return { peer, cidr }
}
