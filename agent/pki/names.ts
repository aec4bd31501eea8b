import { isIP } from 'node:net'

// Names and addresses go into certificates and are compared with policy lists, so they
// are checked and put in one canonical form first.

export const dnsNameCharsMax = 253

/** The canonical text of an IP address (IPv6 compressed, lowercase), or undefined if not an IP. */
export function canonicalIp(ip: string): string | undefined {
  const family = isIP(ip)
  if (family === 4) return ip
  if (family === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1)
  return undefined
}

/**
 * A name we are willing to put in a dNSName SAN: letters, digits, '-', '_' and dots,
 * starting and ending with a letter or digit. Labels may exceed 63 characters because
 * node ids are long hex or base32 strings; no validator we rely on enforces that limit.
 */
export function isDnsName(name: string): boolean {
  return (
    name.length <= dnsNameCharsMax &&
    /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(name) &&
    !name.includes('..')
  )
}

/** Order-preserving de-duplication. */
export function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)]
}
