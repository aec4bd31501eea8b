import { isIP } from 'node:net'
import { z } from 'zod'

export interface HostPort {
  host: string
  port: number
}

export const HostPortString = z
  .string()
  .max(64)
  .transform((s, ctx): HostPort => {
    const i = s.lastIndexOf(':')
    const host = i > 0 ? s.slice(0, i) : ''
    const port = Number(s.slice(i + 1))
    if (!isIP(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not IPV4:PORT` })
      return z.NEVER
    }
    return { host, port }
  })

export function formatHostPort(hp: HostPort): string {
  return `${hp.host}:${hp.port}`
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
    const key = formatHostPort(hp)
    if (seen.has(key)) continue
    seen.add(key)
    out.push(hp)
    if (out.length >= limit) break
  }
  return out
}
