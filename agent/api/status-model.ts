import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { Facts } from '../facts/schema.js'
import type { KubeNodesRead } from '../kube/nodes-reader.js'
import { labSampler, machineSampler, type Sampler } from '../stats/samplers.js'
import type { StatsAnswer } from '../stats/schema.js'
import { NodeStats, type StatsPeer, statsAnswerBytesMax } from '../stats/service.js'
import type { ClusterView } from './cluster-schema.js'
import { buildClusterView, type ClusterViewInput } from './cluster-view.js'
import {
  type ControlPlaneAnswer,
  ControlPlaneSource,
  controlPlaneAnswerBytesMax,
  type LocalControlPlane,
  type VoterCandidate,
} from './control-plane-source.js'
import { PeerClient, type PeerTlsMaterial } from './peer-client.js'

// What every node's status page and API show, put together: the mesh's members, the
// control plane as etcd sees it (here or through a voter), the Kubernetes Nodes, and
// each node's load. The agent builds one of these and hands `clusterView` to the servers.

/** A member as the model needs it (from the mesh's read model). */
export interface StatusPeer {
  id: string
  name: string
  address: string | undefined
  tlsPort: number
  voter: boolean
  alive: boolean
}

export interface StatusModelDeps {
  clock: Clock
  random: Random
  log: Logger
  counters: Counters
  stateDir: string
  facts: Facts
  /** Members other than this node. */
  peers(): StatusPeer[]
  /** This node's agent certificate (client side of mutual TLS); null while joining. */
  certificate(): PeerTlsMaterial | null
  /** This node's etcd member, when the control plane runs here. */
  controlPlane: { etcdView(): LocalControlPlane | null; clusterView(): LocalControlPlane } | null
  kube: { nodesView(): KubeNodesRead | null } | null
  /** Everything else the view shows (members, pending joins, events). */
  base(): Omit<ClusterViewInput, 'controlPlane' | 'coordinator' | 'kube' | 'stats'>
}

export interface StatusModel {
  clusterView(): ClusterView
  /** For GET /api/v1/control-plane on 7443: this node's own etcd view, or null. */
  controlPlaneAnswer(): ControlPlaneAnswer | null
  statsAnswer(sinceMs: number): StatsAnswer
  start(): void
  stop(): Promise<void>
}

/** Lab boards share one host: they report their own processes against the board profile. */
export function samplerFor(facts: Facts, stateDir: string, clock: Clock): Sampler {
  if (!facts.source.startsWith('profile:')) return machineSampler({ dataDir: stateDir, clock })
  return labSampler({
    rootPid: process.pid,
    stateDir,
    board: { cores: facts.cores, memoryMB: facts.memoryMB, diskGB: facts.storage[0]?.sizeGB ?? 0 },
    clock,
  })
}

const tlsUrl = (p: StatusPeer) => `https://${p.address}:${p.tlsPort}/`

export function createStatusModel(d: StatusModelDeps): StatusModel {
  const client = new PeerClient({ material: () => d.certificate(), counters: d.counters })
  const get = (id: string, url: string, what: string, bodyBytesMax: number) =>
    client.get({ url, nodeId: id, bodyBytesMax, timeoutMs: 3000, what })
  const alive = () => d.peers().filter((p) => p.alive && p.address)
  const stats = new NodeStats(
    {},
    {
      ...d,
      sampler: samplerFor(d.facts, d.stateDir, d.clock),
      peers: () => alive().map((p): StatsPeer => ({ id: p.id, url: tlsUrl(p) })),
      fetch: (peer, path) => get(peer.id, new URL(path, peer.url).href, 'stats', statsAnswerBytesMax),
    },
  )
  const kube = () => d.kube?.nodesView() ?? null
  const source = new ControlPlaneSource({
    ...d,
    local: () => d.controlPlane?.etcdView() ?? null,
    localKube: kube,
    mesh: () => d.controlPlane?.clusterView() ?? { controlPlane: emptyControlPlane(), coordinator: null },
    voters: () =>
      alive()
        .filter((p) => p.voter)
        .map((p): VoterCandidate => ({ id: p.id, name: p.name, url: tlsUrl(p) })),
    fetch: (voter, path) =>
      get(voter.id, new URL(path, voter.url).href, 'control-plane', controlPlaneAnswerBytesMax),
  })
  return {
    clusterView() {
      stats.touch()
      source.touch()
      const cp = source.current()
      const base = d.base()
      const stateDisk = d.facts.stateDisk
      return buildClusterView({
        ...base,
        ...(stateDisk ? { self: { ...base.self, stateDisk } } : {}),
        controlPlane: cp.controlPlane,
        coordinator: cp.coordinator,
        kube: cp.kube?.nodes ?? null,
        stats: (id, self) => stats.viewOf(id, self),
      })
    },
    controlPlaneAnswer() {
      const own = d.controlPlane?.etcdView()
      return own ? { controlPlane: own.controlPlane, coordinator: own.coordinator, kube: kube() } : null
    },
    statsAnswer: (since) => stats.answer(since),
    start() {
      stats.start()
      source.start()
    },
    async stop() {
      await Promise.all([stats.stop(), source.stop()])
      client.close()
    },
  }
}

function emptyControlPlane(): ClusterView['controlPlane'] {
  return { voters: [], learners: [], leader: null, quorum: false, source: 'mesh' }
}
