import { isIP } from 'node:net'
import { z } from 'zod'

export interface HostPort {
  host: string
  port: number
  /** The peer's mesh public key (hex) when known: then it can be dialled directly. */
  key?: string
}

/** "IP:PORT", or "KEY@IP:PORT" where KEY is the peer's 64-hex mesh public key. */
export const HostPortString = z
  .string()
  .max(140)
  .transform((s, ctx): HostPort => {
    const at = s.indexOf('@')
    const key = at >= 0 ? s.slice(0, at) : undefined
    const rest = at >= 0 ? s.slice(at + 1) : s
    const i = rest.lastIndexOf(':')
    const host = i > 0 ? rest.slice(0, i) : ''
    const port = Number(rest.slice(i + 1))
    if (
      !isIP(host) ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535 ||
      (key !== undefined && !/^[0-9a-f]{64}$/.test(key))
    ) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not IPV4:PORT or KEY@IPV4:PORT` })
      return z.NEVER
    }
    return key ? { host, port, key } : { host, port }
  })

export function formatHostPort(hp: HostPort): string {
  return `${hp.host}:${hp.port}`
}

export function formatPeer(hp: HostPort): string {
  return hp.key ? `${hp.key}@${hp.host}:${hp.port}` : formatHostPort(hp)
}

/**
 * The DHT bootstrap list is only ever our own peers: configured, learned from the
 * mesh, persisted from the last run, or found on the LAN. hyperdht falls back to
 * public nodes when given no list at all, so this always returns an array (maybe
 * empty: then this node is the first) and never includes ourselves.
 */
export function buildBootstrapList(
  sources: { configured: HostPort[]; persisted: HostPort[]; discovered: HostPort[] },
  self: HostPort,
  limit = 16,
): HostPort[] {
  const seen = new Set<string>([formatHostPort(self)])
  const out: HostPort[] = []
  for (const hp of [...sources.configured, ...sources.discovered, ...sources.persisted]) {
    const addr = formatHostPort(hp)
    if (seen.has(addr)) continue
    seen.add(addr)
    out.push(hp)
    if (out.length >= limit) break
  }
  return out
}
