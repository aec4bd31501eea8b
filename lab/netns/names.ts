// Names and addresses of a lab network, derived from (labIndex, node) alone so a crashed
// run can be found and swept by name. Pure: no I/O here.
import { HomecloudError } from '../../agent/core/errors.js'

export const labIndexMin = 1
export const labIndexMax = 200
export const nodeIndexMin = 1
/** Node i gets host .i+1, and .255 is broadcast: so at most 253 nodes per lab. */
export const nodeIndexMax = 253
/** Linux refuses interface names longer than IFNAMSIZ-1. */
export const ifnameCharsMax = 15
/** Every name we create starts with this; nothing else on the host may be touched. */
export const labNamePrefix = 'hc'
/** The whole lab address plan lives in 10.77.0.0/16. */
export const labSubnetPrefix = '10.77'
export const labPrefixLength = 24
/** Inside every namespace the veth end is renamed to this. */
export const nodeIfname = 'eth0'
/** mDNS and other link-local multicast need a route even without a default route. */
export const multicastRoute = '224.0.0.0/4'

export interface LabBridgeNames {
  labIndex: number
  bridge: string
  /** Host address on the bridge, so the host can reach the nodes. */
  bridgeAddress: string
  bridgeCidr: string
  subnet: string
}

export interface LabNodeNames extends LabBridgeNames {
  node: number
  netns: string
  /** Host-side end of the veth pair, enslaved to the bridge. */
  hostVeth: string
  /** Name of the namespace-side end. */
  nodeIfname: string
  address: string
  cidr: string
}

export function assertLabIndex(labIndex: number): void {
  if (!Number.isInteger(labIndex) || labIndex < labIndexMin || labIndex > labIndexMax) {
    throw new HomecloudError(
      'LAB_INVALID',
      `lab index ${labIndex} is not an integer in ${labIndexMin}..${labIndexMax}`,
      'pick another lab index; it becomes the third octet of 10.77.<labIndex>.0/24',
    )
  }
}

export function assertNodeIndex(node: number): void {
  if (!Number.isInteger(node) || node < nodeIndexMin || node > nodeIndexMax) {
    throw new HomecloudError(
      'LAB_INVALID',
      `node index ${node} is not an integer in ${nodeIndexMin}..${nodeIndexMax}`,
      `a lab network holds at most ${nodeIndexMax} nodes, numbered from ${nodeIndexMin}`,
    )
  }
}

export function labBridgeNames(labIndex: number): LabBridgeNames {
  assertLabIndex(labIndex)
  const bridgeAddress = `${labSubnetPrefix}.${labIndex}.1`
  return {
    labIndex,
    bridge: `${labNamePrefix}${labIndex}br`,
    bridgeAddress,
    bridgeCidr: `${bridgeAddress}/${labPrefixLength}`,
    subnet: `${labSubnetPrefix}.${labIndex}.0/${labPrefixLength}`,
  }
}

export function labNames(labIndex: number, node: number): LabNodeNames {
  const bridge = labBridgeNames(labIndex)
  assertNodeIndex(node)
  const address = `${labSubnetPrefix}.${labIndex}.${node + 1}`
  return {
    ...bridge,
    node,
    netns: `${labNamePrefix}${labIndex}n${node}`,
    hostVeth: `${labNamePrefix}${labIndex}v${node}`,
    nodeIfname,
    address,
    cidr: `${address}/${labPrefixLength}`,
  }
}

export type LabNameKind = 'bridge' | 'netns' | 'veth'

export interface ParsedLabName {
  labIndex: number
  kind: LabNameKind
  /** Undefined for the bridge. */
  node: number | undefined
}

const labNamePattern = /^hc([1-9]\d{0,2})(br|n([1-9]\d{0,2})|v([1-9]\d{0,2}))$/

/** The inverse of the name functions: undefined for anything we did not name. */
export function parseLabName(name: string): ParsedLabName | undefined {
  const m = labNamePattern.exec(name)
  if (!m) return undefined
  const labIndex = Number(m[1])
  if (labIndex > labIndexMax) return undefined
  if (m[2] === 'br') return { labIndex, kind: 'bridge', node: undefined }
  const node = Number(m[3] ?? m[4])
  if (node > nodeIndexMax) return undefined
  return { labIndex, kind: m[3] ? 'netns' : 'veth', node }
}
