import type { PodNetPlan } from './plan.js'

// The host side of the pod network (pure): routes to other nodes' pod ranges, marked with
// our own route protocol number so a pass finds and removes exactly the routes it made,
// and the iptables rules every pod network needs — masquerade what leaves the pod network
// for the LAN (the home router knows no pod ranges) and let pod traffic be forwarded.

/** `proto 77` in `ip route`: routes this agent made (unassigned in iproute2's rt_protos). */
export const routeProto = 77

export interface HostRoute {
  cidr: string
  /** plain mode: the peer's address. */
  via?: string
  /** The device: the tunnel (wireguard mode), or the LAN interface (the Service range). */
  dev?: string
}

/**
 * Peers' pod ranges (through the tunnel, or via the peer in plain mode) and the Service
 * range on the node's LAN interface: a node without a default route (an air-gapped LAN, a
 * lab namespace) must still route Service addresses, or the kernel refuses them before
 * kube-proxy's rules can rewrite them (hostNetwork pods such as MetalLB's speaker).
 */
export function desiredRoutes(
  plan: PodNetPlan,
  tunnel: string,
  service?: { cidr: string; dev: string },
): HostRoute[] {
  const peers = plan.peers.map((p) =>
    plan.mode === 'plain' ? { cidr: p.podCidr, via: p.address } : { cidr: p.podCidr, dev: tunnel },
  )
  return service ? [...peers, { cidr: service.cidr, dev: service.dev }] : peers
}

/** `ip -j route show proto 77` → the routes we hold. */
export function parseRoutes(json: string): HostRoute[] {
  const rows = JSON.parse(json || '[]') as { dst?: string; gateway?: string; dev?: string }[]
  return rows
    .filter((r) => r.dst)
    .map((r) => ({
      cidr: r.dst!,
      ...(r.gateway ? { via: r.gateway } : {}),
      ...(r.dev ? { dev: r.dev } : {}),
    }))
}

/** `ip` argument lists: replace what is missing or different, delete what is ours and unwanted. */
export function routeCommands(have: readonly HostRoute[], want: readonly HostRoute[]): string[][] {
  const out: string[][] = []
  for (const w of want) {
    const h = have.find((r) => r.cidr === w.cidr)
    if (h && h.via === w.via && (w.via || h.dev === w.dev)) continue
    const target = w.via ? ['via', w.via] : ['dev', w.dev ?? '']
    out.push(['route', 'replace', w.cidr, ...target, 'proto', String(routeProto)])
  }
  for (const h of have) {
    if (!want.some((w) => w.cidr === h.cidr)) out.push(['route', 'del', h.cidr, 'proto', String(routeProto)])
  }
  return out
}

/** `ip -j -4 addr show` → the interface holding `address`, or null. */
export function interfaceOf(json: string, address: string): string | null {
  const links = JSON.parse(json || '[]') as { ifname?: string; addr_info?: { local?: string }[] }[]
  return links.find((l) => l.addr_info?.some((a) => a.local === address))?.ifname ?? null
}

export const natChain = 'HOMECLOUD-POSTROUTING'
export const forwardChain = 'HOMECLOUD-FORWARD'

/**
 * iptables-restore input (with --noflush: only our two chains are rewritten). Pod traffic to
 * other pods keeps its address; to anything else (the LAN, an API server on a board
 * without pods) it leaves with the node's. Multicast is never masqueraded.
 */
export function iptablesRules(clusterCidr: string): string {
  return [
    '*nat',
    `:${natChain} - [0:0]`,
    `-A ${natChain} -s ${clusterCidr} -d ${clusterCidr} -j RETURN`,
    `-A ${natChain} -s ${clusterCidr} ! -d 224.0.0.0/4 -j MASQUERADE --random-fully`,
    'COMMIT',
    '*filter',
    `:${forwardChain} - [0:0]`,
    `-A ${forwardChain} -s ${clusterCidr} -j ACCEPT`,
    `-A ${forwardChain} -d ${clusterCidr} -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n')
}

/** The jumps into our chains, as `iptables` argument lists (checked with -C, added with -A). */
export const iptablesJumps: { table: string; chain: string; target: string }[] = [
  { table: 'nat', chain: 'POSTROUTING', target: natChain },
  { table: 'filter', chain: 'FORWARD', target: forwardChain },
]
