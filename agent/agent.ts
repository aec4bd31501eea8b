import { mkdir } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { buildClusterView } from './api/cluster-view.js'
import { buildApiServer } from './api/server.js'
import type { AgentConfig } from './config/schema.js'
import { type Clock, systemClock } from './core/clock.js'
import { Counters } from './core/counters.js'
import { HomecloudError } from './core/errors.js'
import { EventLog } from './core/event-log.js'
import { createLogger, type Logger } from './core/log.js'
import { type Facts, factsSummary, loadFacts } from './facts/index.js'
import { loadOrCreateIdentity } from './identity/identity.js'
import { buildBootstrapList, formatHostPort, type HostPort } from './mesh/bootstrap.js'
import { clusterTag, meshTopic } from './mesh/cluster-id.js'
import { DEFAULT_MESH_INIT, Mesh } from './mesh/mesh.js'
import { MeshStateStore } from './mesh/peers-store.js'
import { SwarmTransport } from './mesh/swarm.js'
import { readClusterFile } from './state/cluster-file.js'
import { statePaths } from './state/paths.js'
import { AGENT_VERSION } from './version.js'

export interface RunningAgent {
  id: string
  stop(): Promise<void>
}

/** The first non-internal IPv4 address: what a real node announces on its LAN. */
export function defaultHost(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/**
 * The composition root: read state, build every component with its adapters, start
 * them in order (identity → facts → mesh → API), and stop them in reverse.
 */
export async function startAgent(
  stateDir: string,
  config: AgentConfig,
  clock: Clock = systemClock(),
): Promise<RunningAgent> {
  const paths = statePaths(stateDir)
  await mkdir(paths.data, { recursive: true, mode: 0o700 })
  const { identity, created } = await loadOrCreateIdentity(paths.identityKey)
  const log: Logger = createLogger({ node: identity.id, level: config.logLevel })
  const cluster = await readClusterFile(paths.clusterFile)
  if (!cluster) {
    throw new HomecloudError(
      'STATE_DIR',
      `${stateDir} holds no cluster`,
      'found one with `homecloud init --state DIR`, or give this node join material',
    )
  }
  const host = config.host ?? defaultHost()
  const name = config.name ?? (await import('node:os')).hostname()
  log.info({ state: stateDir, created, cluster: cluster.id, host, name }, 'agent starting')

  const facts: Facts = await loadFacts({
    dataDir: paths.data,
    profile: config.board,
    seed: identity.id,
    probe: config.fsyncProbe,
    log,
    clock,
  })
  log.info({ facts: factsSummary(facts), source: facts.source }, 'hardware facts')

  const counters = new Counters()
  const events = new EventLog()
  const store = new MeshStateStore(paths.meshState)
  const saved = await store.load()
  const self: HostPort = { host, port: config.ports.dht }
  const bootstrap = buildBootstrapList(
    { configured: config.bootstrap, persisted: saved.peers, discovered: [] },
    self,
  )
  const transport = new SwarmTransport(
    { seed: identity.seed, host, dhtPort: config.ports.dht, bootstrap, topic: meshTopic(cluster.id) },
    log,
  )
  const startedAtMs = clock.nowMs()
  const mesh = new Mesh(
    {
      ...DEFAULT_MESH_INIT,
      clusterId: cluster.id,
      heartbeatMs: config.mesh.heartbeatMs,
      timings: { suspectAfterMs: config.mesh.suspectAfterMs, deadAfterMs: config.mesh.deadAfterMs },
      frameBytesMax: config.mesh.frameBytesMax,
      bootstrap: config.bootstrap,
    },
    {
      identity,
      clock,
      log,
      transport,
      store,
      events,
      counters,
      selfRecord: () => ({
        name,
        addresses: [host],
        ports: { api: config.ports.api, tls: config.ports.tls, dht: config.ports.dht },
        facts: factsSummary(facts),
        version: AGENT_VERSION,
        roles: ['worker'],
        startedAtMs,
      }),
    },
  )
  await transport.start()
  const dhtAddr = transport.dhtAddress()
  log.info(
    { dht: dhtAddr && formatHostPort(dhtAddr), bootstrap: transport.bootstrapNodes().map(formatHostPort) },
    'mesh transport up',
  )
  await mesh.start()

  let stopMdns: (() => Promise<void>) | null = null
  if (config.mdns) {
    const { startMdnsContact } = await import('./mesh/mdns/index.js')
    const contact = await startMdnsContact({
      listenHost: host,
      port: config.ports.contact,
      clusterTag: clusterTag(cluster.id),
      self: { dhtHost: host, dhtPort: config.ports.dht, key: identity.publicKey.toString('hex') },
      logger: log,
      onPeer: (p: { dhtHost: string; dhtPort: number; key?: string }) => {
        log.info({ peer: `${p.dhtHost}:${p.dhtPort}` }, 'found a peer on the LAN')
        transport.addNode({ host: p.dhtHost, port: p.dhtPort })
        if (p.key) transport.dial({ host: p.dhtHost, port: p.dhtPort, key: p.key })
        void transport.refresh()
      },
    })
    stopMdns = () => contact.stop()
  }

  const api = buildApiServer({
    log,
    counters,
    ready: () => true,
    clusterView: () =>
      buildClusterView({
        cluster: { id: cluster.id, name: cluster.name },
        self: { record: mesh.selfSigned().body, nowMs: clock.nowMs() },
        members: mesh.table.all(),
        events: events.recent(100),
      }),
    meshInfo: () => ({
      dhtAddress: dhtAddr ? formatHostPort(dhtAddr) : null,
      bootstrapNodes: transport.bootstrapNodes().map(formatHostPort),
      connections: transport.connections().length,
      incarnation: mesh.selfIncarnation,
    }),
  })
  await api.listen({ host, port: config.ports.api })
  log.info({ url: `http://${host}:${config.ports.api}/` }, 'status page and API listening')
  events.add({
    atMs: clock.nowMs(),
    kind: 'started',
    id: identity.id,
    name,
    message: `${name} started (incarnation ${mesh.selfIncarnation})`,
  })

  let stopping: Promise<void> | null = null
  return {
    id: identity.id,
    stop() {
      stopping ??= (async () => {
        log.info('agent stopping')
        await api.close().catch(() => {})
        await stopMdns?.().catch(() => {})
        await mesh.stop()
        await transport.destroy()
      })()
      return stopping
    },
  }
}
