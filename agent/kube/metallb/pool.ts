import { formatIpv4, parseCidr, parseIpv4 } from '../podnet/cidr.js'

// The LAN addresses Services of type LoadBalancer get (pure): the agent config's ranges
// become MetalLB's IPAddressPool `homecloud` and an L2Advertisement for it (one node at a
// time answers ARP for each address; MetalLB moves it when that node dies).

export const poolName = 'homecloud'
export const metallbNamespace = 'metallb-system'

export interface AddressRange {
  first: number
  last: number
}

/** Bigger pools are a typo, not a home LAN (and MetalLB would track every address). */
export const poolAddressesMax = 4096

/** `A.B.C.D-A.B.C.E` (inclusive, first ≤ last) or a CIDR; null when neither. */
export function parseAddressRange(text: string): AddressRange | null {
  if (text.includes('/')) {
    const c = parseCidr(text)
    if (!c) return null
    const size = 2 ** (32 - c.bits)
    return size > poolAddressesMax ? null : { first: c.base, last: c.base + size - 1 }
  }
  const [a, b, ...rest] = text.split('-')
  if (rest.length || a === undefined || b === undefined) return null
  const first = parseIpv4(a.trim())
  const last = parseIpv4(b.trim())
  if (first === null || last === null || last < first || last - first >= poolAddressesMax) return null
  return { first, last }
}

/** MetalLB's spelling of a range: `first-last`. */
export function metallbRange(r: AddressRange): string {
  return `${formatIpv4(r.first)}-${formatIpv4(r.last)}`
}

/** The pool and its layer-2 announcement as one manifest (JSON documents are YAML); empty when no ranges. */
export function poolManifest(ranges: readonly string[]): string {
  const parsed = ranges.map(parseAddressRange)
  if (parsed.some((r) => r === null)) throw new Error(`bad address range in ${ranges.join(', ')}`)
  if (parsed.length === 0) return ''
  const labels = { 'app.kubernetes.io/part-of': 'homecloud-addons' }
  const pool = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: poolName, namespace: metallbNamespace, labels },
    spec: { addresses: (parsed as AddressRange[]).map(metallbRange), autoAssign: true, avoidBuggyIPs: false },
  }
  const l2 = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: poolName, namespace: metallbNamespace, labels },
    spec: { ipAddressPools: [poolName] },
  }
  return `${JSON.stringify(pool, null, 2)}\n---\n${JSON.stringify(l2, null, 2)}\n`
}
