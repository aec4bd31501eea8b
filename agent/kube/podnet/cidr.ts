// IPv4 CIDR arithmetic for the pod network (pure): pod ranges are checked against the
// cluster's before any route is made from them.

export interface Cidr {
  base: number
  bits: number
}

export function parseIpv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (!m) return null
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return null
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
}

/** A network in canonical form (no host bits set), else null. */
export function parseCidr(text: string): Cidr | null {
  const [ip, len, ...rest] = text.split('/')
  if (rest.length || ip === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return null
  const base = parseIpv4(ip)
  const bits = Number(len)
  if (base === null || bits > 32) return null
  return (base & maskOf(bits)) >>> 0 === base ? { base, bits } : null
}

const maskOf = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0)

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && (inner.base & maskOf(outer.bits)) >>> 0 === outer.base
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a)
}

export const formatCidr = (c: Cidr): string => `${formatIpv4(c.base)}/${c.bits}`

/** The network address of a pod range as a host address (the tunnel's own, like flannel's). */
export function networkAddress(c: Cidr): string {
  return formatIpv4(c.base)
}
