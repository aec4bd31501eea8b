import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Identity } from '../identity/identity.js'
import type { PeerConn } from '../mesh/swarm.js'
import { generateRsaKeyPem } from '../pki/keys.js'
import { type ClusterFile, readClusterFile } from '../state/cluster-file.js'
import { statePaths } from '../state/paths.js'
import { CertBook } from './cert-book.js'
import { type JoinMaterial, readJoinMaterial } from './join-material.js'
import { Trust } from './trust.js'
import { TrustStore } from './trust-store.js'

export interface TrustSetup {
  trust: Trust
  book: CertBook
  cluster: ClusterFile
  join: JoinMaterial | null
}

/**
 * Reads what the state directory holds and builds the trust layer for one of three
 * situations: a signer (CA key present), a member (certificate present), or a node
 * with join material only, which will join by itself.
 */
export async function setUpTrust(init: {
  stateDir: string
  identity: Identity
  nodeName: string
  host: string
  clock: Clock
  log: Logger
  events: EventLog
  counters: Counters
  connections: () => PeerConn[]
  members: () => { id: string; name: string; addresses: string[] }[]
  onCertificate: (c: { certPem: string; keyPem: string; caPem: string }) => void
  onRevoked: (ids: string[]) => void
}): Promise<TrustSetup> {
  const paths = statePaths(init.stateDir)
  const join = await readJoinMaterial(paths.joinFile)
  const stored = await readClusterFile(paths.clusterFile)
  const cluster: ClusterFile | null =
    stored ??
    (join
      ? {
          v: 1,
          id: join.clusterId,
          name: join.clusterName,
          joinPolicy: 'auto',
          certValidityMs: 365 * 86_400_000,
          settingsVersion: 0,
        }
      : null)
  if (!cluster) {
    throw new HomecloudError(
      'STATE_DIR',
      `${init.stateDir} holds no cluster and no join material`,
      'found a cluster here with `homecloud init --state DIR`, or copy join.json from the founder into this directory',
    )
  }
  if (join && join.clusterId !== cluster.id) {
    throw new HomecloudError(
      'JOIN_MATERIAL_INVALID',
      `join.json is for cluster ${join.clusterId}, this node is in ${cluster.id}`,
    )
  }
  const store = new TrustStore(init.stateDir)
  const saved = await store.load()
  const book = new CertBook(saved.caPem, cluster.id, () => init.clock.nowMs())
  if (saved.revocations) book.adoptRevocations(saved.revocations)
  if (!saved.node && !join) {
    throw new HomecloudError(
      'STATE_DIR',
      `${init.stateDir} has no node certificate and no join material`,
      'copy join.json from the founder',
    )
  }
  const trust = new Trust(
    {
      cluster,
      secret: join?.secret ?? null,
      ca: saved.caPem && saved.caKeyPem ? { certPem: saved.caPem, keyPem: saved.caKeyPem } : null,
      node: saved.node,
      nodeName: init.nodeName,
      host: init.host,
      approvals: saved.approvals,
    },
    {
      identity: init.identity,
      clock: init.clock,
      log: init.log,
      events: init.events,
      counters: init.counters,
      book,
      store,
      connections: init.connections,
      members: init.members,
      onCertificate: init.onCertificate,
      onRevoked: init.onRevoked,
    },
  )
  if (!saved.node) trust.prepareJoin(await store.joinKey(() => generateRsaKeyPem()))
  return { trust, book, cluster, join }
}
