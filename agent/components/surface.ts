import type { FastifyInstance } from 'fastify'
import type { ClusterView } from '../api/cluster-schema.js'
import { buildClusterView } from '../api/cluster-view.js'
import { PeerClient } from '../api/peer-client.js'
import { createStatusModel, type StatusModel } from '../api/status-model.js'
import { type StatusServers, startStatusServers } from '../api/status-servers.js'
import { startTlsApi, type TlsApiHandle } from '../api/tls-lifecycle.js'
import type { TlsGuards } from '../api/tls-server.js'
import type { ControlPlane } from '../controlplane/index.js'
import { Recovery } from '../controlplane/recovery.js'
import { registerRecoveryRoutes } from '../controlplane/recovery-routes.js'
import type { Component } from '../core/lifecycle.js'
import type { Facts } from '../facts/index.js'
import type { LanService } from '../kube/metallb/lan-services.js'
import type { KubeNodesRead } from '../kube/nodes-reader.js'
import { formatHostPort } from '../mesh/bootstrap.js'
import { clusterTag } from '../mesh/cluster-id.js'
import type { Mesh } from '../mesh/mesh.js'
import type { SwarmTransport } from '../mesh/swarm.js'
import { joinMaterialFor, NetbootService } from '../netboot/service.js'
import { type Releases, startReleases } from '../release/index.js'
import { MemberOrRelaySlots, RelayNetbootSlots } from '../slots/netboot-store.js'
import type { CertBook } from '../trust/cert-book.js'
import type { Trust } from '../trust/trust.js'
import type { NodeBase } from './node.js'
import { meshNodes } from './rollout-deps.js'

/** What the API, netboot, releases and the 7443 listener read: the layers below, through their faces. */
export interface SurfaceDeps {
  clusterId: string
  trust: Trust
  book: CertBook
  mesh: Mesh
  transport: SwarmTransport
  controlPlane: ControlPlane | null
  /** Services on the LAN and the node answering each (Kubernetes nodes); null before the first read. */
  lanServices?: () => LanService[] | null
  /** Kubernetes on this node, when enabled: the Nodes it reads as a voter. */
  kube: { nodesView(): KubeNodesRead | null } | null
  facts: Facts
  /** More 7443 routes (boot slots, upgrades), given the same guards. */
  register?: (app: FastifyInstance, guards: TlsGuards) => void
  /** Told the release service once it started (null: it did not). */
  onReleases?: (r: Releases | null) => void
  /** The rollout as the page shows it (null: none). */
  rollout?: () => ClusterView['rollout'] | null
}

/** The parts built as the surface starts: each needs the one before it (routes are registered at build). */
interface Built {
  releases: Releases | null
  netboot: NetbootService | null
  /** The view every page and API reads (same truth: etcd here or through a voter, Nodes, load). */
  model: StatusModel | null
  recovery?: Recovery | null
}

/** Recovery from a snapshot on this node (status page and 7443), once per node; null without a control plane. */
function recoveryOf(n: NodeBase, d: SurfaceDeps, built: Built): Recovery | null {
  const cp = d.controlPlane
  if (!cp) return null
  built.recovery ??= new Recovery({
    stateDir: n.stateDir,
    nodeId: n.identity.id,
    nodeName: n.name,
    clock: n.clock,
    log: n.log,
    local: cp.local,
    trust: d.trust,
    nodes: () =>
      d.mesh.peers
        .members()
        .filter((m) => m.state === 'alive' && m.signed.body.id !== n.identity.id)
        .map((m) => ({
          id: m.signed.body.id,
          name: m.signed.body.name,
          address: m.signed.body.addresses[0] ?? '',
        })),
    apiPort: n.config.ports.tls,
    peers: new PeerClient({ material: () => d.trust.certificate(), counters: n.counters }),
    material: () => d.trust.certificate(),
  })
  return built.recovery
}

/**
 * What people and machines talk to, in start order: releases (their routes and what
 * netboot serves), the status model (the view every page and API shows: etcd's word
 * here or through a voter, Nodes, load), the status page and API (7080, and 7444 once this node has a
 * certificate), the netboot server (after the API: dnsmasq points machines at routes
 * that must already answer), and the mutual-TLS API (7443). The listeners follow the
 * node's certificate.
 */
export function surfaceComponents(n: NodeBase, d: SurfaceDeps): Component[] {
  const built: Built = { releases: null, netboot: null, model: null }
  return [
    releasesComponent(n, d, built),
    modelComponent(n, d, built),
    statusComponent(n, d, built),
    {
      name: 'netboot',
      start: () =>
        built.netboot
          ?.start()
          .catch((err) => n.log.error({ err: (err as Error).message }, 'netboot did not start')),
      stop: () => built.netboot?.stop(),
    },
    tlsComponent(n, d, built),
  ]
}

function clusterView(n: NodeBase, d: SurfaceDeps, built: Built) {
  const releases = built.releases
  const view = built.model ? built.model.clusterView() : buildClusterView(baseView(n, d))
  const rollout = d.rollout?.()
  return { ...view, ...(releases ? { releases: releases.summary() } : {}), ...(rollout ? { rollout } : {}) }
}

/** Members, pending joiners and events: what the mesh and trust say, before the control plane. */
function baseView(n: NodeBase, d: SurfaceDeps) {
  const { trust, mesh } = d
  return {
    cluster: { id: d.clusterId, name: trust.settings.name },
    self: { record: mesh.peers.self(), nowMs: n.clock.nowMs(), status: trust.status },
    members: mesh.peers.members(),
    pending: trust.pendingEntries().map((e) => ({ ...e, record: trust.candidate(e.id) })),
    events: n.events.recent(100),
    services: d.lanServices?.(),
  }
}

function modelComponent(n: NodeBase, d: SurfaceDeps, built: Built): Component {
  return {
    name: 'status-model',
    start() {
      built.model = createStatusModel({
        clock: n.clock,
        random: n.random,
        log: n.log,
        counters: n.counters,
        stateDir: n.stateDir,
        facts: d.facts,
        peers: () =>
          d.mesh.peers.members().map((m) => ({
            id: m.signed.body.id,
            name: m.signed.body.name,
            address: m.signed.body.addresses[0],
            tlsPort: m.signed.body.ports.tls,
            voter: m.signed.body.roles.includes('etcd-voter'),
            alive: m.state === 'alive',
          })),
        certificate: () => d.trust.certificate(),
        controlPlane: d.controlPlane,
        kube: d.kube,
        base: () => baseView(n, d),
      })
      built.model.start()
    },
    stop: () => built.model?.stop(),
  }
}

function releasesComponent(n: NodeBase, d: SurfaceDeps, built: Built): Component {
  return {
    name: 'releases',
    async start() {
      if (!n.config.releases.enabled) return
      built.releases = await startReleases({
        stateDir: n.stateDir,
        identity: n.identity,
        name: n.name,
        clusterId: d.clusterId,
        clusterTag: clusterTag(d.clusterId),
        host: n.host,
        port: n.config.ports.release,
        apiPort: n.config.ports.tls,
        etcdClientPort: n.config.controlPlane.etcd.clientPort,
        clock: n.clock,
        log: n.log,
        counters: n.counters,
        members: () => d.mesh.peers.members(),
        self: () => d.mesh.peers.self(),
        isRevoked: (id) => d.book.isRevoked(id),
        tlsMaterial: () => d.trust.certificate(),
        caKeyPem: () => d.trust.caMaterial()?.keyPem ?? null,
      }).catch((err) => {
        // The node still runs without releases (e.g. its release port is taken); it says why.
        n.log.error({ err: (err as Error).message }, 'releases did not start')
        return null
      })
      d.onReleases?.(built.releases)
    },
    stop: () => built.releases?.stop(),
  }
}

function statusComponent(n: NodeBase, d: SurfaceDeps, built: Built): Component {
  let status: StatusServers | null = null
  return {
    name: 'status',
    async start() {
      built.netboot = n.config.netboot.enabled ? netbootService(n, d, built.releases) : null
      const servers = startStatusServers(
        {
          host: n.host,
          httpPort: n.config.ports.api,
          httpsPort: n.config.ports.https,
          names: [n.host, n.name],
          log: n.log,
        },
        statusDeps(n, d, built),
      )
      status = servers
      await servers.listen()
      d.trust.onCertificate((material) => void status?.update(material))
      const material = d.trust.certificate()
      if (material) await servers.update(material)
    },
    async stop() {
      const servers = status
      status = null
      await servers?.close()
    },
  }
}

function statusDeps(n: NodeBase, d: SurfaceDeps, built: Built) {
  const { trust, mesh, transport } = d
  return {
    register: (app: Parameters<NetbootService['register']>[0]) => {
      built.netboot?.register(app)
      built.releases?.registerRead(app)
    },
    caPem: () => d.book.ca,
    log: n.log,
    counters: n.counters,
    ready: () => trust.isMember,
    requireLogin: n.config.statusPage.requireLogin,
    auth: {
      passwordHash: () => trust.settings.uiPasswordHash,
      approve: (node: string) => (trust.isSigner ? trust.approve(node) : ('not-signer' as const)),
      recovery: () => recoveryOf(n, d, built),
      signerUrl: () => {
        const m = mesh.peers.aliveVoters()[0]
        return m ? `http://${m.signed.body.addresses[0]}:${m.signed.body.ports.api}/` : null
      },
    },
    clusterView: () => clusterView(n, d, built),
    meshInfo: () => {
      const dht = transport.dhtAddress()
      return {
        dhtAddress: dht ? formatHostPort(dht) : null,
        bootstrapNodes: transport.bootstrapNodes().map(formatHostPort),
        connections: transport.peerCount(),
        links: transport.connections().map((c) => ({ peer: c.remoteKeyHex.slice(0, 12), ...c.stats() })),
        incarnation: mesh.selfIncarnation,
        health: mesh.health,
      }
    },
  }
}

function netbootService(n: NodeBase, d: SurfaceDeps, releases: Releases | null): NetbootService {
  const selfPeer = `${n.identity.publicKey.toString('hex')}@${n.host}:${n.config.ports.dht}`
  return new NetbootService(
    {
      config: n.config.netboot,
      stateDir: n.stateDir,
      host: n.host,
      apiPort: n.config.ports.api,
      nodeName: n.name,
      clusterId: d.clusterId,
      joinPolicy: () => d.trust.settings.joinPolicy,
      stateDiskPolicy: () => d.trust.settings.stateDiskPolicy,
      // The same sorted list on every node, so every node renders the same boot line.
      peers: () => [
        selfPeer,
        ...d.mesh.peers
          .members()
          .filter((m) => m.state === 'alive' && m.signed.body.id !== n.identity.id)
          .sort((a, b) => (a.signed.body.id < b.signed.body.id ? -1 : 1))
          .map((m) => `${m.signed.body.publicKey}@${m.signed.body.addresses[0]}:${m.signed.body.ports.dht}`),
      ],
      joinMaterial: () => joinMaterialFor(n.paths.joinFile, selfPeer),
      ...(releases ? { releases: releases.netboot, slots: netbootSlotsClient(n, d, releases) } : {}),
    },
    { clock: n.clock, log: n.log, counters: n.counters },
  )
}

/** The per-MAC netboot slot records: this node's etcd while it is a member, else a voter's. */
function netbootSlotsClient(n: NodeBase, d: SurfaceDeps, releases: Releases): MemberOrRelaySlots {
  const relay = new RelayNetbootSlots({
    voters: () =>
      meshNodes(d.mesh).flatMap((m) =>
        m.voter && m.alive && m.address && m.id !== n.identity.id ? [{ ...m, address: m.address }] : [],
      ),
    client: new PeerClient({ material: () => d.trust.certificate(), counters: n.counters }),
  })
  return new MemberOrRelaySlots({
    memberEtcd: () => releases.service.memberEtcd(),
    relay,
    nowMs: () => n.clock.nowMs(),
  })
}

function tlsComponent(n: NodeBase, d: SurfaceDeps, built: Built): Component {
  const { trust, book, mesh } = d
  let tls: TlsApiHandle | null = null
  return {
    name: 'tls-api',
    async start() {
      const releases = built.releases
      const handle = startTlsApi({
        host: n.host,
        port: n.config.ports.tls,
        log: n.log,
        deps: {
          log: n.log,
          counters: n.counters,
          nowMs: () => n.clock.nowMs(),
          caPem: () => book.ca,
          revokedSerials: () => new Set(book.revokedSerials()),
          isRevoked: (nodeId) => book.isRevoked(nodeId),
          isSigner: () => trust.isSigner,
          approve: (node) => trust.approve(node),
          revoke: (node, reason) => {
            const m = mesh.peers.find(node)
            if (!m) return null
            trust.revoke(m.signed.body.id, m.signed.body.name, reason)
            return { id: m.signed.body.id, name: m.signed.body.name }
          },
          setJoinPolicy: (p) => trust.setJoinPolicy(p),
          setStateDiskPolicy: (p) => trust.setStateDiskPolicy(p),
          clusterView: () => clusterView(n, d, built),
          register: (app, guards) => {
            releases?.registerAdmin(app, guards)
            d.register?.(app, guards)
            const recovery = recoveryOf(n, d, built)
            registerRecoveryRoutes(app, guards, { stateDir: n.stateDir, nodeId: n.identity.id, recovery })
          },
          controlPlane: () => built.model?.controlPlaneAnswer() ?? null,
          stats: (since) => built.model?.statsAnswer(since) ?? { source: 'machine', samples: [] },
        },
      })
      tls = handle
      trust.onCertificate((material) => void tls?.update(material))
      const material = trust.certificate()
      if (material) await handle.update(material)
    },
    async stop() {
      const handle = tls
      tls = null
      await handle?.close()
    },
  }
}
