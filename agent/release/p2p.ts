import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId, Stream } from '@libp2p/interface'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { Logger } from '../core/log.js'

// The release transport: a libp2p node whose key IS the node's identity (the ed25519
// seed that also derives the hyperswarm key and signs the mesh records), so a libp2p
// peer id names a node id and every connection is checked against the membership
// before a byte of a protocol flows (connection gater, after the Noise handshake
// proved the key). On it: a private kad-dht (our own protocol name, server mode, no
// public bootstrap — peers are the members the mesh knows) for provider records, and
// the piece protocol (piece-protocol.ts). Why not the hyperswarm connections: pieces of
// 4 MiB would queue behind (and delay) the heartbeats that judge liveness; here they
// get their own yamux streams, and Noise uses Node's native ChaCha20-Poly1305.

export const releasePortDefault = 7082
const rawCodec = 0x55
const sha256Code = 0x12

export interface ReleaseP2pInit {
  /** The node identity's 32-byte ed25519 seed. */
  seed: Uint8Array
  host: string
  port: number
  /** Short hex from the cluster id: protocol names differ per cluster. */
  clusterTag: string
  /** Is this ed25519 public key (hex) a current, unrevoked member? */
  isMember: (publicKeyHex: string) => boolean
  log: Logger
}

export interface ReleaseP2p {
  node: Libp2p
  peerId: string
  piecesProtocol: string
  /** Connects to a member (its key, address, release port); already connected: nothing. */
  connect(publicKeyHex: string, host: string, port: number, signal?: AbortSignal): Promise<void>
  provide(releaseId: string, signal?: AbortSignal): Promise<void>
  /** No longer names this node a provider (its own record, and no re-announcing). */
  unprovide(releaseId: string): Promise<void>
  /** Providers' public keys (hex), members only. */
  findProviders(releaseId: string, signal?: AbortSignal): Promise<string[]>
  openStream(publicKeyHex: string, signal?: AbortSignal): Promise<Stream>
  hangUp(publicKeyHex: string): Promise<void>
  connectedKeys(): string[]
  stop(): Promise<void>
}

export function peerIdOfKey(publicKeyHex: string): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(publicKeyHex, 'hex')))
}

export function keyOfPeer(peer: PeerId): string | null {
  const raw = peer.publicKey?.raw
  return raw && raw.length === 32 ? Buffer.from(raw).toString('hex') : null
}

/** A release id (sha256 of its manifest) as the CID its provider records are kept under. */
export function releaseCid(releaseId: string): CID {
  return CID.createV1(rawCodec, Digest.create(sha256Code, Buffer.from(releaseId, 'hex')))
}

export async function startReleaseP2p(init: ReleaseP2pInit): Promise<ReleaseP2p> {
  const log = init.log.child({ component: 'release-p2p' })
  const member = (peer: PeerId) => {
    const key = keyOfPeer(peer)
    return key !== null && init.isMember(key)
  }
  const node = await createLibp2p({
    start: false,
    privateKey: await generateKeyPairFromSeed('Ed25519', init.seed),
    addresses: { listen: [`/ip4/${init.host}/tcp/${init.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 64, maxIncomingPendingConnections: 8 },
    connectionMonitor: { enabled: false },
    connectionGater: {
      // Loopback and LAN addresses are what a home cluster (and its lab) dials.
      denyDialMultiaddr: () => false,
      // Noise has proved the peer's key: only members get a connection.
      denyInboundEncryptedConnection: (peer) => !member(peer),
      denyOutboundEncryptedConnection: (peer) => !member(peer),
    },
    services: {
      identify: identify({ protocolPrefix: `homecloud-${init.clusterTag}` }),
      ping: ping({ protocolPrefix: `homecloud-${init.clusterTag}` }),
      dht: kadDHT({
        protocol: `/homecloud/${init.clusterTag}/kad/1.0.0`,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
        initialQuerySelfInterval: 1000,
      }),
    },
  })
  await node.start()
  const peerId = node.peerId.toString()
  log.info({ peerId, listen: node.getMultiaddrs().map(String) }, 'release transport listening')
  const piecesProtocol = `/homecloud/${init.clusterTag}/pieces/1.0.0`
  const connectedTo = (key: string) => node.getConnections(peerIdOfKey(key)).length > 0

  return {
    node,
    peerId,
    piecesProtocol,
    async connect(key, host, port, signal) {
      if (connectedTo(key)) return
      const ma = multiaddr(`/ip4/${host}/tcp/${port}/p2p/${peerIdOfKey(key).toString()}`)
      await node.dial(ma, { signal })
    },
    async provide(releaseId, signal) {
      await node.contentRouting.provide(releaseCid(releaseId), { signal })
    },
    async unprovide(releaseId) {
      await node.contentRouting.cancelReprovide(releaseCid(releaseId))
    },
    async findProviders(releaseId, signal) {
      const out = new Set<string>()
      for await (const p of node.contentRouting.findProviders(releaseCid(releaseId), { signal })) {
        const key = keyOfPeer(p.id)
        if (key && init.isMember(key)) out.add(key)
      }
      return [...out]
    },
    openStream(key, signal) {
      return node.dialProtocol(peerIdOfKey(key), piecesProtocol, { signal })
    },
    async hangUp(key) {
      await node.hangUp(peerIdOfKey(key)).catch(() => {})
    },
    connectedKeys() {
      return node
        .getConnections()
        .map((c) => keyOfPeer(c.remotePeer))
        .filter((k): k is string => k !== null)
    },
    async stop() {
      await node.stop()
    },
  }
}
