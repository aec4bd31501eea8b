import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { Identity } from '../identity/identity.js'
import type { PeerView } from '../mesh/peers.js'
import type { MeshRouter } from '../mesh/router.js'
import { generateRsaKeyPem } from '../pki/keys.js'
import { type RevocationList, verifyRevocations } from '../pki/revocations.js'
import { type ClusterFile, readClusterFile } from '../state/cluster-file.js'
import { statePaths } from '../state/paths.js'
import { CertBook } from './cert-book.js'
import { type JoinMaterial, readJoinMaterial } from './join-material.js'
import { Trust } from './trust.js'
import type { TrustComponents } from './trust-init.js'
import { TrustStore } from './trust-store.js'

/** What the state directory holds about trust, read before anything starts. */
export interface LoadedTrust {
  cluster: ClusterFile
  join: JoinMaterial | null
  book: CertBook
  store: TrustStore
  saved: Awaited<ReturnType<TrustStore['load']>>
  /** A node without a certificate: the key its join CSR is made with (kept across restarts). */
  joinKeyPem: string | null
}

/**
 * Reads one of three situations: a signer (CA key present), a member (certificate
 * present), or a node with join material only, which will join by itself.
 */
export async function loadTrust(stateDir: string, clock: Clock): Promise<LoadedTrust> {
  const paths = statePaths(stateDir)
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
      `${stateDir} holds no cluster and no join material`,
      'found a cluster here with `homecloud init --state DIR`, or copy join.json from the founder into this directory',
    )
  }
  if (join && join.clusterId !== cluster.id) {
    throw new HomecloudError(
      'JOIN_MATERIAL_INVALID',
      `join.json is for cluster ${join.clusterId}, this node is in ${cluster.id}`,
    )
  }
  const store = new TrustStore(stateDir)
  const onDisk = await store.load()
  const caPem = onDisk.caPem
  const raced = caPem ? verifiedLists(onDisk.revocationsRaced, caPem, cluster.id) : []
  const saved = { ...onDisk, revocationsRaced: raced }
  const book = new CertBook(saved.caPem, cluster.id, () => clock.nowMs())
  if (saved.revocations) book.adoptRevocations(saved.revocations)
  for (const l of raced) book.adoptRevocations(l)
  if (!saved.node && !join) {
    throw new HomecloudError(
      'STATE_DIR',
      `${stateDir} has no node certificate and no join material`,
      'copy join.json from the founder',
    )
  }
  const joinKeyPem = saved.node ? null : await store.joinKey(() => generateRsaKeyPem())
  return { cluster, join, book, store, saved, joinKeyPem }
}

export interface TrustWiring {
  identity: Identity
  nodeName: string
  host: string
  clock: Clock
  random: Random
  log: Logger
  events: EventLog
  counters: Counters
  peers: PeerView
  router: MeshRouter
  onRevoked: (ids: string[]) => void
  reachPeer: TrustComponents['reachPeer']
  hold: TrustComponents['hold']
}

/** The trust protocols on the mesh's faces (they register their messages on the router). */
export function createTrust(loaded: LoadedTrust, w: TrustWiring): Trust {
  const { saved, book, store, join, cluster } = loaded
  return new Trust(
    {
      cluster,
      signedSettings: saved.signedSettings,
      secret: join?.secret ?? null,
      ca: saved.caPem && saved.caKeyPem ? { certPem: saved.caPem, keyPem: saved.caKeyPem } : null,
      node: saved.node,
      joinKeyPem: loaded.joinKeyPem,
      nodeName: w.nodeName,
      host: w.host,
      approvals: saved.approvals,
      revocations: saved.revocations,
      revocationsRaced: saved.revocationsRaced,
    },
    { ...w, book, store },
  )
}

/** Saved raced revocation lists that still verify against our CA (a bad one is re-learned from peers). */
export function verifiedLists(
  lists: readonly RevocationList[],
  caPem: string,
  clusterId: string,
): RevocationList[] {
  return lists.flatMap((l) => {
    const v = verifyRevocations(l, caPem, { clusterId })
    return v.ok ? [v.list] : []
  })
}
