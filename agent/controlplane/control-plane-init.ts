import type { PlacementSigner } from '../../control/coordinator/placement-record.js'
import type { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { PeerView } from '../mesh/peers.js'
import type { MeshRouter } from '../mesh/router.js'
import type { EpochTrust } from './epoch.js'

// What ControlPlane is made with (index.ts) and what its parts read (parts.ts).

export interface ControlPlaneInit {
  stateDir: string
  nodeId: string
  /** This node's key: it signs the placement record while this node coordinates. */
  identity: PlacementSigner
  clusterId: string
  address: string
  config: AgentConfig['controlPlane']
}

export interface ControlPlaneComponents {
  clock: Clock
  /** Jitter and choices of every loop below; default the system source. */
  random?: Random
  log: Logger
  events: EventLog
  /** Where the coordinator counts failovers (shown on /metrics). */
  counters?: Counters
  trust: EpochTrust & { setEtcdEpoch(epoch: number): void }
  caPem(): string | null
  isRevoked(nodeId: string): boolean
  /** The mesh's faces: who is there, and where our message types are registered. */
  peers: PeerView
  router: MeshRouter
  /** Ask the mesh to hold a link to a member for a while (links are bounded). */
  reach?(nodeId: string): void
}
