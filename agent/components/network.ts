import type { Component } from '../core/lifecycle.js'
import { type Facts, factsSummary } from '../facts/index.js'
import { nodeIdFromPublicKey } from '../identity/identity.js'
import { buildBootstrapList, formatHostPort, type HostPort, HostPortString } from '../mesh/bootstrap.js'
import { clusterTag, meshTopic } from '../mesh/cluster-id.js'
import { Mesh } from '../mesh/mesh.js'
import { DEFAULT_MESH_INIT, type MeshInit } from '../mesh/mesh-init.js'
import { MeshStateStore } from '../mesh/peers-store.js'
import { SwarmTransport } from '../mesh/swarm.js'
import { certificateGate } from '../trust/gate.js'
import type { JoinMaterial } from '../trust/join-material.js'
import type { LoadedTrust } from '../trust/setup.js'
import { AGENT_VERSION } from '../version.js'
import type { NodeBase, RoleBoard } from './node.js'

export interface Network {
  mesh: Mesh
  transport: SwarmTransport
  component: Component
}

/**
 * The mesh over hyperswarm: the transport (its firewall refuses revoked keys), the
 * membership shell with the certificate gate, and our own record.
 */
export async function buildNetwork(
  n: NodeBase,
  trust: LoadedTrust,
  facts: Facts,
  roles: RoleBoard,
): Promise<Network> {
  const { config, identity, host, log, counters } = n
  const store = new MeshStateStore(n.paths.meshState)
  const saved = await store.load()
  const fromJoin = joinBootstrap(trust.join)
  const bootstrap = buildBootstrapList(
    { configured: [...config.bootstrap, ...fromJoin], persisted: saved.peers, discovered: [] },
    { host, port: config.ports.dht },
  )
  const transport = new SwarmTransport(
    {
      seed: identity.seed,
      host,
      dhtPort: config.ports.dht,
      bootstrap,
      topic: meshTopic(trust.cluster.id),
      // Outgoing connections hyperswarm may hold: our links, others' picks of us, joiners.
      maxPeers: 2 * config.mesh.connectionsMax + DEFAULT_MESH_INIT.links.strangersMax,
      clock: n.clock,
      firewall: (pk) => {
        const refused = trust.book.isRevoked(nodeIdFromPublicKey(pk))
        if (refused) counters.inc('homecloud_mesh_connections_refused_total', { reason: 'revoked' })
        return refused
      },
    },
    log,
  )
  const startedAtMs = n.clock.nowMs()
  const mesh = new Mesh(meshInit(config, trust.cluster.id, [...config.bootstrap, ...fromJoin]), {
    identity,
    clock: n.clock,
    random: n.random,
    log,
    transport,
    store,
    events: n.events,
    counters,
    gate: certificateGate(trust.book, identity.id),
    selfRecord: () => ({
      name: n.name,
      addresses: [host],
      ports: { api: config.ports.api, tls: config.ports.tls, dht: config.ports.dht },
      facts: factsSummary(facts),
      version: AGENT_VERSION,
      roles: roles.roles(),
      startedAtMs,
    }),
  })
  return { mesh, transport, component: meshComponent(mesh, transport, log) }
}

/**
 * One component: the mesh listens before the transport can bring a connection, and
 * stops before the transport is destroyed.
 */
function meshComponent(mesh: Mesh, transport: SwarmTransport, log: NodeBase['log']): Component {
  return {
    name: 'mesh',
    async start() {
      // The mesh listens (and knows its incarnation) before the first connection can
      // arrive: a connection accepted earlier would have no frame decoder and be ignored.
      await mesh.start()
      await transport.start()
      // The mesh started before the transport could dial: reach known peers now, not at the next refresh.
      mesh.dialKnown()
      const dht = transport.dhtAddress()
      log.info(
        { dht: dht && formatHostPort(dht), bootstrap: transport.bootstrapNodes().map(formatHostPort) },
        'mesh transport up',
      )
    },
    async stop() {
      await mesh.stop()
      await transport.destroy()
    },
  }
}

/** First contact on a LAN by mDNS (libp2p): a peer found is added to the DHT and dialled. */
export function mdnsComponent(n: NodeBase, clusterId: string, transport: SwarmTransport): Component {
  let stop: (() => Promise<void>) | null = null
  return {
    name: 'mdns',
    async start() {
      const { startMdnsContact } = await import('../mesh/mdns/index.js')
      const contact = await startMdnsContact({
        listenHost: n.host,
        port: n.config.ports.contact,
        clusterTag: clusterTag(clusterId),
        self: { dhtHost: n.host, dhtPort: n.config.ports.dht, key: n.identity.publicKey.toString('hex') },
        logger: n.log,
        onPeer: (p: { dhtHost: string; dhtPort: number; key?: string }) => {
          n.log.info({ peer: `${p.dhtHost}:${p.dhtPort}` }, 'found a peer on the LAN')
          transport.addNode({ host: p.dhtHost, port: p.dhtPort })
          if (p.key) transport.dial({ host: p.dhtHost, port: p.dhtPort, key: p.key })
          void transport.refresh()
        },
      })
      stop = () => contact.stop()
    },
    async stop() {
      await stop?.().catch(() => {})
    },
  }
}

/** The mesh's settings: the defaults with the configured SWIM timings and link limit. */
function meshInit(config: NodeBase['config'], clusterId: string, bootstrap: HostPort[]): MeshInit {
  return {
    ...DEFAULT_MESH_INIT,
    clusterId,
    swim: {
      ...DEFAULT_MESH_INIT.swim,
      probeIntervalMs: config.mesh.probeIntervalMs,
      probeTimeoutMs: config.mesh.probeTimeoutMs,
      suspicionMult: config.mesh.suspicionMult,
    },
    links: {
      ...DEFAULT_MESH_INIT.links,
      connectionsMax: config.mesh.connectionsMax,
      // Room for others' picks of us above the full mesh.
      fullMeshPeersMax: Math.min(DEFAULT_MESH_INIT.links.fullMeshPeersMax, config.mesh.connectionsMax - 4),
    },
    frameBytesMax: config.mesh.frameBytesMax,
    bootstrap,
  }
}

/** Peers named in the join material; malformed entries are skipped (the schema bounds them). */
function joinBootstrap(join: JoinMaterial | null): HostPort[] {
  return (join?.bootstrap ?? []).flatMap((s) => {
    const r = HostPortString.safeParse(s)
    return r.success ? [r.data] : []
  })
}
