import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { Identity } from '../identity/identity.js'
import type { PeerView } from '../mesh/peers.js'
import type { MeshRouter } from '../mesh/router.js'
import type { CaMaterial } from '../pki/ca.js'
import type { RevocationList } from '../pki/revocations.js'
import type { ClusterFile } from '../state/cluster-file.js'
import type { SignedApproval } from './approval.js'
import type { CertBook } from './cert-book.js'
import type { SignedSettings } from './signed-settings.js'
import type { TrustStore } from './trust-store.js'

// What Trust is started with (trust.ts) and what its shell parts share (machines.ts,
// routes.ts, own-identity.ts): in a file of its own so none of them imports trust.ts.

export interface TrustInit {
  cluster: ClusterFile
  signedSettings: SignedSettings | null
  /** The join secret: present on the founder and on nodes given join material. */
  secret: string | null
  /** The CA key pair: only on nodes that may sign. */
  ca: CaMaterial | null
  /** Our certificate and key, once we have them. */
  node: { certPem: string; keyPem: string } | null
  /** A node without a certificate: the key its join CSR is made with. */
  joinKeyPem: string | null
  nodeName: string
  host: string
  approvals: SignedApproval[]
  revocations: RevocationList | undefined
  /** Raced lists saved beside it (revocations.ts), verified like it. */
  revocationsRaced: RevocationList[]
}

export interface TrustComponents {
  identity: Identity
  clock: Clock
  /** Jitter of the retry loop's backoff (core/controller). */
  random: Random
  log: Logger
  events: EventLog
  counters: Counters
  book: CertBook
  store: TrustStore
  /** The mesh's faces: members (names, ids and addresses a signer must not hand out twice), connections. */
  peers: PeerView
  router: MeshRouter
  /** These nodes were revoked: cut their connections, forget them. */
  onRevoked: (nodeIds: string[]) => void
  /** Hold a link for a while to a peer known only by address and key (a joiner's named signer). */
  reachPeer: (peer: { key: string; host: string; port: number }, forMs: number) => void
  /**
   * Keep the link to this peer (by node id) for a while: a join question and its answer
   * must not be lost to a link shed for room (a joiner is a stranger there).
   */
  hold: (nodeId: string, forMs: number) => void
}
