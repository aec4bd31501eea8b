// First contact on the LAN: libp2p mDNS finds agents of the same cluster, and one
// small exchange tells each side the other's hyperdht bootstrap address. Nothing else
// runs on this libp2p node (no DHT, relay, UPnP, AutoNAT or public bootstrap).

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Connection, PeerInfo, Stream } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { tcp } from '@libp2p/tcp'
import type { Libp2p } from 'libp2p'
import { createLibp2p } from 'libp2p'
import { z } from 'zod'
import { type Clock, systemClock } from '../../core/clock.js'
import { HomecloudError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { ContactMessage, DecodeResult, DhtAddress } from './message.js'
import {
  clusterTagSchema,
  contactFrameBytesMax,
  contactProtocol,
  decodeContact,
  encodeContact,
  isDialableLanAddress,
  isOwnLanAddress,
  serviceTagFor,
  shouldDial,
} from './message.js'

export const contactPortDefault = 7081
export const mdnsIntervalMsDefault = 1_000
/** One exchange (dial + both lines) that takes longer than this is abandoned. */
export const contactMsMax = 5_000
/** A failed contact is retried on a later mDNS answer, but not sooner than this. */
export const contactRetryMs = 2_000
/** Peers remembered (contacted or in flight); the oldest contacted ones are forgotten first. */
export const contactPeersMax = 256
/** A LAN of agents needs few connections at once; each one costs memory. */
export const connectionsMax = 16
const contactStreamsMax = 4
/** Multiaddr code of the /p2p/<peer id> component. */
const p2pProtocolCode = 421

export interface MdnsContactInit {
  /** The LAN address to listen on and announce (never 0.0.0.0, which also announces 127.0.0.1). */
  listenHost: string
  port?: number
  /** Short lower-case hex derived from the cluster id by the caller. */
  clusterTag: string
  self: DhtAddress
  intervalMs?: number
  logger: Logger
  /** Called once per discovered peer of the same cluster. */
  onPeer: (info: DhtAddress) => void
  clock?: Clock
}

export interface MdnsContact {
  peerId: string
  stop(): Promise<void>
}

type PeerState = { kind: 'dialing' } | { kind: 'contacted' } | { kind: 'failed'; retryAtMs: number }

const initSchema = z.object({
  // 0.0.0.0 would also announce 127.0.0.1; the LAN address is what peers must dial.
  listenHost: z.ipv4().refine((h) => h !== '0.0.0.0' && !h.startsWith('127.'), 'a LAN address'),
  port: z.number().int().min(1).max(65_535).optional(),
  clusterTag: clusterTagSchema,
  self: z.object({
    dhtHost: z.ipv4(),
    dhtPort: z.number().int().min(1).max(65_535),
    key: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
  intervalMs: z.number().int().min(100).max(60_000).optional(),
})

export async function startMdnsContact(init: MdnsContactInit): Promise<MdnsContact> {
  const checked = initSchema.safeParse(init)
  if (!checked.success) {
    const issue = checked.error.issues[0]
    throw new HomecloudError(
      'CONFIG_INVALID',
      `mDNS contact: ${issue?.path.join('.')}: ${issue?.message}`,
      'pass the LAN address (not 0.0.0.0), a lower-case hex cluster tag and the DHT address',
    )
  }
  const clock = init.clock ?? systemClock()
  const log = init.logger.child({ component: 'mdns-contact' })
  const port = init.port ?? contactPortDefault
  const intervalMs = init.intervalMs ?? mdnsIntervalMsDefault
  const self: ContactMessage = { cluster: init.clusterTag, ...init.self }
  const selfLine = encodeContact(self)
  const peers = new Map<string, PeerState>()
  let node: Libp2p | undefined
  let stopped = false

  const remember = (peer: string, state: PeerState) => {
    peers.delete(peer)
    peers.set(peer, state)
    while (peers.size > contactPeersMax) {
      const oldest = [...peers].find(([, s]) => s.kind !== 'dialing')?.[0] ?? peers.keys().next().value
      if (oldest === undefined) break
      peers.delete(oldest)
    }
  }

  const accept = (peer: string, result: DecodeResult): boolean => {
    if (!result.ok) {
      log.warn({ peer, reason: result.reason }, 'contact message malformed, ignored')
      return false
    }
    if (result.msg.cluster !== init.clusterTag) {
      log.warn({ peer, cluster: result.msg.cluster }, 'contact from another cluster, ignored')
      return false
    }
    const first = peers.get(peer)?.kind !== 'contacted'
    remember(peer, { kind: 'contacted' })
    if (first) {
      log.info({ peer, dht: `${result.msg.dhtHost}:${result.msg.dhtPort}` }, 'mdns contact made')
      try {
        init.onPeer({ dhtHost: result.msg.dhtHost, dhtPort: result.msg.dhtPort, key: result.msg.key })
      } catch (err) {
        log.error({ peer, err: String(err) }, 'onPeer callback threw')
      }
    }
    return true
  }

  // Inbound: read the dialer's line first and answer only a matching cluster, so other
  // clusters never learn our DHT address.
  const onInbound = async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    const timer = clock.setTimeout(() => stream.abort(new Error('contact timed out')), contactMsMax)
    try {
      if (!accept(peer, decodeContact(await readLine(stream)))) {
        stream.abort(new Error('contact refused'))
        return
      }
      stream.send(selfLine)
      await stream.close()
    } catch (err) {
      log.debug({ peer, err: String(err) }, 'inbound contact failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      timer.cancel()
    }
  }

  const contact = async (info: PeerInfo) => {
    const peer = info.id.toString()
    const addrs = info.multiaddrs
      .filter((ma) => isDialableLanAddress(ma.toString()))
      .map((ma) => ma.encapsulate(`/p2p/${peer}`))
    if (!node || addrs.length === 0) return
    remember(peer, { kind: 'dialing' })
    const abort = new AbortController()
    const timer = clock.setTimeout(() => abort.abort(new Error('contact timed out')), contactMsMax)
    let connection: Connection | undefined
    try {
      connection = await node.dial(addrs, { signal: abort.signal })
      const stream = await connection.newStream(contactProtocol, { signal: abort.signal })
      abort.signal.addEventListener('abort', () => stream.abort(new Error('contact timed out')))
      stream.send(selfLine)
      await stream.close({ signal: abort.signal })
      // A peer that answers garbage is not retried: it would answer garbage again.
      if (!accept(peer, decodeContact(await readLine(stream)))) remember(peer, { kind: 'contacted' })
    } catch (err) {
      remember(peer, { kind: 'failed', retryAtMs: clock.monoMs() + contactRetryMs })
      log.debug({ peer, err: String(err) }, 'contact dial failed, will retry')
    } finally {
      timer.cancel()
      // The exchange is all we need; dropping the connection keeps every agent small.
      await connection?.close().catch(() => {})
    }
  }

  // Every mDNS answer lands here, not just the first: libp2p's `peer:discovery` fires
  // only for peers new to the peer store, so a failed first dial would never be retried.
  const onMdnsPeer = (evt: CustomEvent<PeerInfo>) => {
    if (stopped || !node) return
    const peer = evt.detail.id.toString()
    if (!shouldDial(node.peerId.toString(), peer)) return
    const state = peers.get(peer)
    if (state?.kind === 'dialing' || state?.kind === 'contacted') return
    if (state?.kind === 'failed' && clock.monoMs() < state.retryAtMs) return
    void contact(evt.detail)
  }

  node = await createLibp2p({
    start: false,
    addresses: {
      listen: [`/ip4/${init.listenHost}/tcp/${port}`],
      announceFilter: (addrs) => addrs.filter((ma) => isOwnLanAddress(ma.toString(), init.listenHost)),
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: connectionsMax, maxIncomingPendingConnections: 4 },
    // Its pings would need the ping protocol, which we do not run.
    connectionMonitor: { enabled: false },
    connectionGater: {
      denyDialMultiaddr: (ma) => !isDialableLanAddress(ma.decapsulateCode(p2pProtocolCode).toString()),
    },
    peerDiscovery: [
      (components) => {
        const discovery = mdns({ serviceTag: serviceTagFor(init.clusterTag), interval: intervalMs })(
          components,
        )
        discovery.addEventListener('peer', onMdnsPeer)
        return discovery
      },
    ],
    services: { identify: identify() },
  })
  await node.handle(contactProtocol, onInbound, {
    maxInboundStreams: contactStreamsMax,
    maxOutboundStreams: contactStreamsMax,
  })
  await node.start()
  const peerId = node.peerId.toString()
  log.info(
    { peerId, listen: node.getMultiaddrs().map(String), serviceTag: serviceTagFor(init.clusterTag) },
    'mdns contact started',
  )

  return {
    peerId,
    async stop() {
      if (stopped) return
      stopped = true
      await node?.stop()
      log.info({ peerId }, 'mdns contact stopped')
    },
  }
}

/** Reads one newline-terminated line of at most contactFrameBytesMax bytes. */
async function readLine(stream: Stream): Promise<Uint8Array> {
  const buf = new Uint8Array(contactFrameBytesMax + 1)
  let used = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    const take = Math.min(bytes.length, buf.length - used)
    buf.set(bytes.subarray(0, take), used)
    used += take
    const nl = buf.subarray(0, used).indexOf(10)
    if (nl >= 0) return buf.slice(0, nl)
    if (used > contactFrameBytesMax) break
  }
  // No newline: an oversized or truncated line; the decoder reports which.
  return buf.slice(0, used)
}
