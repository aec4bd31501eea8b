// The one message of /homecloud/contact/1.0.0, and the names derived from the cluster
// tag. Pure: parsing and encoding only.
import { z } from 'zod'

export const contactProtocol = '/homecloud/contact/1.0.0'
/** A contact line is ~60 bytes; anything near this is not ours. */
export const contactFrameBytesMax = 256
/** The tag goes into a DNS label of the mDNS service name (63 chars max). */
export const clusterTagCharsMax = 32
export const clusterTagCharsMin = 4

export const clusterTagSchema = z
  .string()
  .regex(/^[0-9a-f]+$/, 'lower-case hex')
  .min(clusterTagCharsMin)
  .max(clusterTagCharsMax)

const portSchema = z.coerce.number().int().min(1).max(65_535)

// Unknown keys are dropped, not refused, so a later version can add fields.
export const contactMessageSchema = z.object({
  cluster: clusterTagSchema,
  dht: z.string().max(64),
  /** The sender's mesh public key (hex): lets the receiver dial it directly. */
  key: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
})

export interface DhtAddress {
  dhtHost: string
  dhtPort: number
  /** Mesh public key, hex; a tiny DHT cannot always find a peer by topic, a key it can dial. */
  key?: string
}

export interface ContactMessage extends DhtAddress {
  cluster: string
}

/** Each cluster gets its own mDNS service name, so other clusters never answer us. */
export function serviceTagFor(clusterTag: string): string {
  return `_hc-${clusterTagSchema.parse(clusterTag)}._udp.local`
}

export function encodeContact(msg: ContactMessage): Uint8Array {
  const line = `${JSON.stringify({ cluster: msg.cluster, dht: `${msg.dhtHost}:${msg.dhtPort}`, key: msg.key })}\n`
  const bytes = new TextEncoder().encode(line)
  if (bytes.length > contactFrameBytesMax) throw new Error('assertion failed: contact line oversized')
  return bytes
}

export type DecodeResult = { ok: true; msg: ContactMessage } | { ok: false; reason: string }

/** Parses one contact line (without or with its trailing newline). Never throws. */
export function decodeContact(bytes: Uint8Array): DecodeResult {
  if (bytes.length > contactFrameBytesMax) return { ok: false, reason: 'oversized' }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return { ok: false, reason: 'not JSON' }
  }
  const parsed = contactMessageSchema.safeParse(json)
  if (!parsed.success) return { ok: false, reason: parsed.error.issues[0]?.message ?? 'schema' }
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(parsed.data.dht)
  const host = z.ipv4().safeParse(m?.[1])
  const port = portSchema.safeParse(m?.[2])
  if (!host.success || !port.success) return { ok: false, reason: 'dht is not ipv4:port' }
  return {
    ok: true,
    msg: { cluster: parsed.data.cluster, dhtHost: host.data, dhtPort: port.data, key: parsed.data.key },
  }
}

/** Exactly one side dials, so a pair never holds two connections. */
export function shouldDial(selfPeerId: string, remotePeerId: string): boolean {
  return selfPeerId < remotePeerId
}

/** Keep only addresses on the LAN address we listen on; nothing public, no loopback. */
export function isOwnLanAddress(multiaddr: string, listenHost: string): boolean {
  return multiaddr.startsWith(`/ip4/${listenHost}/`)
}

/** Dial only private IPv4 TCP addresses: mDNS is LAN-only, and so is first contact. */
export function isDialableLanAddress(multiaddr: string): boolean {
  const m = /^\/ip4\/(\d+)\.(\d+)\.\d+\.\d+\/tcp\/\d+$/.exec(multiaddr)
  if (!m) return false
  const a = Number(m[1])
  const b = Number(m[2])
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
}
