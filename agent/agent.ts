import { mkdir } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { buildClusterView } from './api/cluster-view.js'
import { type StatusServers, startStatusServers } from './api/status-servers.js'
import { startTlsApi, type TlsApiHandle } from './api/tls-lifecycle.js'
import type { AgentConfig } from './config/schema.js'
import { ControlPlane } from './controlplane/index.js'
import { type Clock, systemClock } from './core/clock.js'
import { Counters } from './core/counters.js'
import { EventLog } from './core/event-log.js'
import { createLogger, type Logger } from './core/log.js'
import { type Facts, factsSummary, loadFacts } from './facts/index.js'
import { loadOrCreateIdentity, nodeIdFromPublicKey } from './identity/identity.js'
import type { Kube } from './kube/index.js'
import { buildBootstrapList, formatHostPort, type HostPort, HostPortString } from './mesh/bootstrap.js'
import { clusterTag, meshTopic } from './mesh/cluster-id.js'
import { DEFAULT_MESH_INIT, Mesh } from './mesh/mesh.js'
import { MeshStateStore } from './mesh/peers-store.js'
import { SwarmTransport } from './mesh/swarm.js'
import { joinMaterialFor, NetbootService } from './netboot/service.js'
import { type Releases, startReleases } from './release/index.js'
import { statePaths } from './state/paths.js'
import type { JoinMaterial } from './trust/join-material.js'
import { setUpTrust } from './trust/setup.js'
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
  const host = config.host ?? defaultHost()
  const name = config.name ?? (await import('node:os')).hostname()
  const counters = new Counters()
  const events = new EventLog()
  let transportRef: SwarmTransport | null = null
  let meshRef: Mesh | null = null
  let tls: TlsApiHandle | null = null
  let status: StatusServers | null = null
  const { trust, book, cluster, join } = await setUpTrust({
    stateDir,
    identity,
    nodeName: name,
    host,
    clock,
    log,
    events,
    counters,
    connections: () => transportRef?.connections() ?? [],
    members: () =>
      (meshRef?.table.all() ?? []).map((m) => ({
        id: m.signed.body.id,
        name: m.signed.body.name,
        addresses: m.signed.body.addresses,
      })),
    onCertificate: (material) => {
      void tls?.update(material)
      void status?.update(material)
    },
    onRevoked: (ids) => meshRef?.expel(ids),
  })
  log.info(
    { state: stateDir, created, cluster: cluster.id, host, name, status: trust.status.status },
    'agent starting',
  )

  const facts: Facts = await loadFacts({
    dataDir: paths.data,
    profile: config.board,
    seed: identity.id,
    probe: config.fsyncProbe,
    log,
    clock,
  })
  log.info({ facts: factsSummary(facts), source: facts.source }, 'hardware facts')

  const store = new MeshStateStore(paths.meshState)
  const saved = await store.load()
  const self: HostPort = { host, port: config.ports.dht }
  const bootstrap = buildBootstrapList(
    { configured: [...config.bootstrap, ...joinBootstrap(join)], persisted: saved.peers, discovered: [] },
    self,
  )
  const transport = new SwarmTransport(
    {
      seed: identity.seed,
      host,
      dhtPort: config.ports.dht,
      bootstrap,
      topic: meshTopic(cluster.id),
      clock,
      firewall: (pk) => {
        const refused = book.isRevoked(nodeIdFromPublicKey(pk))
        if (refused) counters.inc('homecloud_mesh_connections_refused_total', { reason: 'revoked' })
        return refused
      },
    },
    log,
  )
  transportRef = transport
  const startedAtMs = clock.nowMs()
  let controlPlane: ControlPlane | null = null
  let kube: Kube | null = null
  const mesh = new Mesh(
    {
      ...DEFAULT_MESH_INIT,
      clusterId: cluster.id,
      heartbeatMs: config.mesh.heartbeatMs,
      timings: { suspectAfterMs: config.mesh.suspectAfterMs, deadAfterMs: config.mesh.deadAfterMs },
      frameBytesMax: config.mesh.frameBytesMax,
      bootstrap: [...config.bootstrap, ...joinBootstrap(join)],
    },
    {
      identity,
      clock,
      log,
      transport,
      store,
      events,
      counters,
      gate: trust,
      control: { handle: (conn, msg) => controlPlane?.handle(conn, msg) },
      selfRecord: () => ({
        name,
        addresses: [host],
        ports: { api: config.ports.api, tls: config.ports.tls, dht: config.ports.dht },
        facts: factsSummary(facts),
        version: AGENT_VERSION,
        roles: ['worker', ...(controlPlane?.roles() ?? []), ...(kube?.roles() ?? [])],
        startedAtMs,
      }),
    },
  )
  // The mesh listens (and knows its incarnation) before the first connection can
  // arrive: a connection accepted earlier would have no frame decoder and be ignored.
  meshRef = mesh
  await mesh.start()
  trust.start()
  await transport.start()
  // The mesh started before the transport could dial: reach known peers now, not at the next refresh.
  mesh.dialKnown()
  const dhtAddr = transport.dhtAddress()
  log.info(
    { dht: dhtAddr && formatHostPort(dhtAddr), bootstrap: transport.bootstrapNodes().map(formatHostPort) },
    'mesh transport up',
  )

  if (config.controlPlane.enabled) {
    const cp = new ControlPlane(
      {
        stateDir,
        nodeId: identity.id,
        identity,
        clusterId: cluster.id,
        address: host,
        config: config.controlPlane,
      },
      {
        clock,
        log,
        events,
        counters,
        trust,
        caPem: () => book.ca,
        isRevoked: (id) => book.isRevoked(id),
        selfRecord: () => mesh.selfSigned().body,
        members: () => mesh.table.all(),
        connections: () => transport.connections(),
      },
    )
    controlPlane = cp
    await cp.start()
  }

  if (config.kube.enabled) {
    const { startKube } = await import('./kube/start.js')
    kube = await startKube({
      stateDir,
      identity,
      name,
      host,
      config,
      facts,
      clock,
      log,
      trust,
      book,
      mesh,
      controlPlane,
      events,
    })
  }

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

  const clusterView = () => ({
    ...buildClusterView({
      cluster: { id: cluster.id, name: trust.settings.name },
      self: { record: mesh.selfSigned().body, nowMs: clock.nowMs(), status: trust.status },
      members: mesh.table.all(),
      pending: trust.pendingEntries().map((e) => ({ ...e, record: trust.candidate(e.id) })),
      events: events.recent(100),
      ...controlPlane?.clusterView(),
    }),
    ...(releases ? { releases: releases.summary() } : {}),
  })
  // Releases: the store, the peer-to-peer transport, the admin routes (agent/release).
  const releases: Releases | null = config.releases.enabled
    ? await startReleases({
        stateDir,
        identity,
        name,
        clusterId: cluster.id,
        clusterTag: clusterTag(cluster.id),
        host,
        port: config.ports.release,
        etcdClientPort: config.controlPlane.etcd.clientPort,
        clock,
        log,
        counters,
        members: () => mesh.table.all(),
        self: () => mesh.selfSigned().body,
        isRevoked: (id) => book.isRevoked(id),
        tlsMaterial: () => trust.certificate(),
        caKeyPem: () => trust.caMaterial()?.keyPem ?? null,
      }).catch((err) => {
        // The node still runs without releases (e.g. its release port is taken); it says why.
        log.error({ err: (err as Error).message }, 'releases did not start')
        return null
      })
    : null
  const selfPeer = `${identity.publicKey.toString('hex')}@${host}:${config.ports.dht}`
  const netboot = config.netboot.enabled
    ? new NetbootService(
        {
          config: config.netboot,
          stateDir,
          host,
          apiPort: config.ports.api,
          nodeName: name,
          clusterId: cluster.id,
          joinPolicy: () => trust.settings.joinPolicy,
          // The same sorted list on every node, so every node renders the same boot line.
          peers: () => [
            selfPeer,
            ...mesh.table
              .all()
              .filter((m) => m.state === 'alive' && m.signed.body.id !== identity.id)
              .sort((a, b) => (a.signed.body.id < b.signed.body.id ? -1 : 1))
              .map(
                (m) => `${m.signed.body.publicKey}@${m.signed.body.addresses[0]}:${m.signed.body.ports.dht}`,
              ),
          ],
          joinMaterial: () => joinMaterialFor(paths.joinFile, selfPeer),
          ...(releases ? { releases: releases.netboot } : {}),
        },
        { clock, log, counters },
      )
    : null
  status = startStatusServers(
    { host, httpPort: config.ports.api, httpsPort: config.ports.https, names: [host, name], log },
    {
      register: (app) => {
        netboot?.register(app)
        releases?.registerRead(app)
      },
      caPem: () => book.ca,
      log,
      counters,
      ready: () => trust.isMember,
      requireLogin: config.statusPage.requireLogin,
      auth: {
        passwordHash: () => trust.settings.uiPasswordHash,
        approve: (node) => (trust.isSigner ? trust.approve(node) : 'not-signer'),
        signerUrl: () => {
          const m = mesh.table
            .all()
            .find((x) => x.state === 'alive' && x.signed.body.roles.includes('etcd-voter'))
          return m ? `http://${m.signed.body.addresses[0]}:${m.signed.body.ports.api}/` : null
        },
      },
      clusterView,
      meshInfo: () => ({
        dhtAddress: dhtAddr ? formatHostPort(dhtAddr) : null,
        bootstrapNodes: transport.bootstrapNodes().map(formatHostPort),
        connections: transport.peerCount(),
        links: transport.connections().map((c) => ({ peer: c.remoteKeyHex.slice(0, 12), ...c.stats() })),
        incarnation: mesh.selfIncarnation,
      }),
    },
  )
  await status.listen()
  // After the API: dnsmasq points machines at routes that must already answer.
  await netboot?.start().catch((err) => log.error({ err: (err as Error).message }, 'netboot did not start'))
  tls = startTlsApi({
    host,
    port: config.ports.tls,
    log,
    deps: {
      log,
      counters,
      nowMs: () => clock.nowMs(),
      caPem: () => book.ca,
      revokedSerials: () => new Set((book.revocationList?.entries ?? []).map((e) => e.serial)),
      isRevoked: (nodeId) => book.isRevoked(nodeId),
      isSigner: () => trust.isSigner,
      approve: (node) => trust.approve(node),
      revoke: (node, reason) => {
        const m = mesh.table.all().find((x) => x.signed.body.id === node || x.signed.body.name === node)
        if (!m) return null
        trust.revoke(m.signed.body.id, m.signed.body.name, reason)
        return { id: m.signed.body.id, name: m.signed.body.name }
      },
      setJoinPolicy: (p) => trust.setJoinPolicy(p),
      clusterView,
      register: releases ? (app, guards) => releases.registerAdmin(app, guards) : undefined,
    },
  })
  const material = trust.certificate()
  if (material) await Promise.all([tls.update(material), status.update(material)])
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
        await netboot?.stop()
        await releases?.stop()
        await status?.close()
        await tls?.close()
        trust.stop()
        await stopMdns?.().catch(() => {})
        await kube?.stop().catch((err) => log.warn({ err: (err as Error).message }, 'kube stop'))
        await controlPlane
          ?.stop()
          .catch((err) => log.warn({ err: (err as Error).message }, 'control plane stop'))
        await mesh.stop()
        await transport.destroy()
      })()
      return stopping
    },
  }
}

/** Peers named in the join material; malformed entries are skipped (the schema bounds them). */
function joinBootstrap(join: JoinMaterial | null): HostPort[] {
  return (join?.bootstrap ?? []).flatMap((s) => {
    const r = HostPortString.safeParse(s)
    return r.success ? [r.data] : []
  })
}
