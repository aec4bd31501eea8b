// Which `ip` commands build or tear down a lab network, as data. Pure, so the order
// (veths before namespaces before the bridge) is fixed by tests, not by luck.
import { labBridgeNames, labNames, multicastRoute, nodeIfname, parseLabName } from './names.js'

export interface IpCommand {
  /** Arguments to `ip`. */
  args: string[]
  /** Teardown steps: "no such device/namespace" counts as success. */
  goneIsOk?: boolean
}

export function bridgePlan(labIndex: number): IpCommand[] {
  const n = labBridgeNames(labIndex)
  return [
    { args: ['link', 'add', n.bridge, 'type', 'bridge'] },
    // Snooping could drop multicast when no IGMP querier exists; mDNS must flood.
    { args: ['link', 'set', n.bridge, 'type', 'bridge', 'mcast_snooping', '0'] },
    { args: ['addr', 'add', n.bridgeCidr, 'dev', n.bridge] },
    { args: ['link', 'set', n.bridge, 'up'] },
  ]
}

export function nodePlan(labIndex: number, node: number): IpCommand[] {
  const n = labNames(labIndex, node)
  const inNs = (...args: string[]): IpCommand => ({ args: ['-n', n.netns, ...args] })
  return [
    { args: ['netns', 'add', n.netns] },
    // Creating the peer directly inside the namespace avoids a temporary name in the host.
    { args: ['link', 'add', n.hostVeth, 'type', 'veth', 'peer', 'name', nodeIfname, 'netns', n.netns] },
    { args: ['link', 'set', n.hostVeth, 'master', n.bridge, 'up'] },
    inNs('addr', 'add', n.cidr, 'dev', nodeIfname),
    inNs('link', 'set', 'lo', 'up'),
    inNs('link', 'set', nodeIfname, 'up'),
    // No default route on purpose: the lab must never reach beyond the bridge.
    inNs('route', 'add', multicastRoute, 'dev', nodeIfname),
  ]
}

export function createPlan(labIndex: number, nodes: number): IpCommand[] {
  const steps = bridgePlan(labIndex)
  for (let i = 1; i <= nodes; i++) steps.push(...nodePlan(labIndex, i))
  return steps
}

export function removeNodePlan(labIndex: number, node: number): IpCommand[] {
  const n = labNames(labIndex, node)
  return [
    { args: ['link', 'del', n.hostVeth], goneIsOk: true },
    { args: ['netns', 'del', n.netns], goneIsOk: true },
  ]
}

export interface HostState {
  links: string[]
  namespaces: string[]
}

/**
 * Teardown of everything named for labIndex that exists now. Veths go first: `ip netns
 * del` frees them asynchronously, and a quick re-create would then hit "File exists".
 */
export function destroyPlan(labIndex: number, state: HostState): IpCommand[] {
  const ours = (names: string[], kind: string) =>
    names
      .map((name) => ({ name, parsed: parseLabName(name) }))
      .filter((x) => x.parsed?.labIndex === labIndex && x.parsed.kind === kind)
      .sort((a, b) => (a.parsed?.node ?? 0) - (b.parsed?.node ?? 0))
      .map((x) => x.name)
  return [
    ...ours(state.links, 'veth').map((name) => ({ args: ['link', 'del', name], goneIsOk: true })),
    ...ours(state.namespaces, 'netns').map((name) => ({ args: ['netns', 'del', name], goneIsOk: true })),
    ...ours(state.links, 'bridge').map((name) => ({ args: ['link', 'del', name], goneIsOk: true })),
  ]
}

/** Lab indexes that own at least one link or namespace on the host. */
export function labIndexesPresent(state: HostState): number[] {
  const found = new Set<number>()
  for (const name of [...state.links, ...state.namespaces]) {
    const parsed = parseLabName(name)
    if (parsed) found.add(parsed.labIndex)
  }
  return [...found].sort((a, b) => a - b)
}

export function linkStatePlan(labIndex: number, node: number, up: boolean): IpCommand[] {
  return [{ args: ['link', 'set', labNames(labIndex, node).hostVeth, up ? 'up' : 'down'] }]
}
