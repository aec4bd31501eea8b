import type { FastifyInstance } from 'fastify'
import { PeerClient } from '../api/peer-client.js'
import type { TlsGuards } from '../api/tls-server.js'
import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { systemRandom } from '../core/random.js'
import type { Identity } from '../identity/identity.js'
import type { Member } from '../mesh/membership.js'
import type { NodeRecordBody } from '../mesh/record.js'
import type { NetbootImage } from '../netboot/manifest.js'
import { ReleaseAdmin } from './admin.js'
import type { MemberInfo } from './members.js'
import { RecordsRelay } from './records-relay.js'
import { registerRelayRoutes } from './relay-routes.js'
import { registerReleaseAdminRoutes, registerReleaseReadRoutes } from './routes.js'
import { ReleaseService } from './service.js'

// Releases as one agent component: the service (store, transport, downloads), the
// admin actions and their HTTP routes, and what netboot needs from it.

export interface ReleasesInit {
  stateDir: string
  identity: Identity
  name: string
  clusterId: string
  clusterTag: string
  host: string
  port: number
  /** The agent API (7443) of voters: the relay for a node that is no etcd member. */
  apiPort: number
  etcdClientPort: number
  clock: Clock
  log: Logger
  counters: Counters
  members: () => Member[]
  /** This node's own record: the mesh table lists only the others. */
  self: () => NodeRecordBody
  isRevoked: (nodeId: string) => boolean
  tlsMaterial: () => { certPem: string; keyPem: string; caPem: string } | null
  caKeyPem: () => string | null
}

export interface Releases {
  service: ReleaseService
  registerRead(app: FastifyInstance): void
  registerAdmin(app: FastifyInstance, guards: TlsGuards): void
  netboot: {
    imageFor(arch: 'amd64' | 'arm64'): { image: NetbootImage | null; reason: string }
    imageById(id: string): NetbootImage | null
  }
  /** For the cluster view and the status page. */
  summary(): { current: { arch: string; version: string; id: string }[]; problems: string[] }
  stop(): Promise<void>
}

export async function startReleases(x: ReleasesInit): Promise<Releases> {
  const info = (b: NodeRecordBody, alive: boolean): MemberInfo => ({
    id: b.id,
    name: b.name,
    key: b.publicKey,
    address: b.addresses[0] ?? '',
    alive,
    voter: b.roles.includes('etcd-voter'),
  })
  const members = (): MemberInfo[] => {
    const self = x.self()
    return [
      info(self, true),
      ...x
        .members()
        .filter((m) => m.signed.body.id !== self.id)
        .map((m) => info(m.signed.body, m.state === 'alive')),
    ]
  }
  const service = new ReleaseService(
    {
      stateDir: x.stateDir,
      seed: x.identity.seed,
      identityKey: x.identity.privateKey,
      selfKey: x.identity.publicKey.toString('hex'),
      selfId: x.identity.id,
      selfName: x.name,
      clusterId: x.clusterId,
      clusterTag: x.clusterTag,
      host: x.host,
      port: x.port,
      etcdClientPort: x.etcdClientPort,
    },
    {
      clock: x.clock,
      log: x.log,
      counters: x.counters,
      random: systemRandom(),
      members,
      // A connection on the release transport is a member's: known to the mesh, not revoked.
      isMember: (key) => members().some((m) => m.key === key && !x.isRevoked(m.id)),
      tlsMaterial: x.tlsMaterial,
      caKeyPem: x.caKeyPem,
      relay: new RecordsRelay({
        selfId: x.identity.id,
        voters: () => members().filter((m) => m.voter && m.alive && m.id !== x.identity.id),
        apiPort: x.apiPort,
        client: new PeerClient({ material: x.tlsMaterial, counters: x.counters }),
      }),
    },
  )
  await service.start()
  const admin = new ReleaseAdmin(service, {
    nowMs: () => x.clock.nowMs(),
    caKeyPem: x.caKeyPem,
    names: () => new Map(members().map((m) => [m.id, m.name])),
  })
  return {
    service,
    registerRead: (app) => registerReleaseReadRoutes(app, admin),
    registerAdmin: (app, g) => {
      registerReleaseAdminRoutes(app, admin, g)
      registerRelayRoutes(app, () => service.memberEtcd(), service.records)
    },
    netboot: { imageFor: (arch) => service.imageFor(arch), imageById: (id) => service.store.image(id) },
    summary: () => {
      const v = admin.view()
      const current = Object.entries(v.current).flatMap(([arch, c]) =>
        c ? [{ arch, version: c.version, id: c.id }] : [],
      )
      const own = v.local.problem ? [`${x.name}: ${v.local.problem}`] : []
      return { current, problems: [...new Set([...own, ...v.problems])].slice(0, 64) }
    },
    stop: () => service.stop(),
  }
}
