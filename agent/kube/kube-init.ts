import type { MeshNodeState } from '../../control/nodes/reconcile.js'
import type { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { CaMaterial } from '../pki/ca.js'
import type { NodeProfile } from '../trust/node-profile.js'
import type { NodeFacts } from './node-object.js'

// What Kube is made with (index.ts) and what its parts read (compose.ts).

export interface KubeInit {
  stateDir: string
  nodeId: string
  nodeName: string
  host: string
  config: AgentConfig['kube']
  facts: NodeFacts
  etcdClientPort: number
}

export interface VoterNode {
  name: string
  address: string
}

export interface KubeComponents {
  clock: Clock
  /** Jitter and choices of every loop below; default the system source. */
  random?: Random
  log: Logger
  caPem(): string | null
  ca(): CaMaterial | null
  requestCertificate(profile: NodeProfile): Promise<{ certPem: string; keyPem: string }>
  isVoter(): boolean
  /** The local etcd member's epoch (a recovery bumps it: the control plane restarts). */
  etcdEpoch(): number
  isCoordinator(): boolean
  /** The etcd voters now (alive or suspect), this node included when it is one. */
  voters(): VoterNode[]
  /** The mesh's view of a node, by id or name (dead-node handling). */
  mesh(idOrName: string): MeshNodeState | undefined
  events?: EventLog
}
