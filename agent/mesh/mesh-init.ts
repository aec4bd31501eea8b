import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import type { Identity } from '../identity/identity.js'
import type { HostPort } from './bootstrap.js'
import { DEFAULT_LINK_TIMINGS } from './links/book.js'
import { DEFAULT_LINK_LIMITS } from './links/choose.js'
import type { LivenessSettings } from './liveness.js'
import type { MeshStateStore } from './peers-store.js'
import type { NodeRecordBody } from './record.js'
import type { SwarmTransport } from './swarm.js'
import { DEFAULT_SWIM_CONFIG } from './swim/config.js'
import { WIRE_LIMITS } from './wire.js'

// The mesh's settings, what it is built from, and its fixed limits (mesh.ts is the shell).

export interface MeshInit extends LivenessSettings {
  clusterId: string
  /** The topic is announced again this often (hyperswarm itself does it every ~10 minutes). */
  announceMs: number
  frameBytesMax: number
  /** Configured peers; those with a key are dialled while no member is linked. */
  bootstrap: HostPort[]
}

export const DEFAULT_MESH_INIT: Omit<MeshInit, 'clusterId'> = {
  swim: DEFAULT_SWIM_CONFIG,
  links: DEFAULT_LINK_LIMITS,
  linkTimings: DEFAULT_LINK_TIMINGS,
  replanMs: 1000,
  reconnectDeadMs: 10_000,
  reconnectForMs: 24 * 3_600_000,
  announceMs: 60_000,
  frameBytesMax: WIRE_LIMITS.frameBytesMax,
  bootstrap: [],
}

export interface MeshComponents {
  identity: Identity
  clock: Clock
  random?: Random
  log: Logger
  transport: SwarmTransport
  store: MeshStateStore
  events: EventLog
  counters: Counters
  /** Who may take part (certificates): absent, every correctly signed record of the cluster is admitted. */
  gate?: MeshGate
  /** The parts of our own record that other layers own (roles, addresses, facts). */
  selfRecord: () => Omit<NodeRecordBody, 'v' | 'cluster' | 'id' | 'publicKey' | 'incarnation' | 'heartbeat'>
}

/** Admission by certificate (agent/trust builds it from its certificate book). */
export interface MeshGate {
  /** False while this node holds no certificate of its own: it can admit nobody yet. */
  canAdmit(): boolean
  admits(body: NodeRecordBody): 'member' | 'uncertified' | 'revoked'
}

export const DROP_LOG_INTERVAL_MS = 5000

/** Drop warnings: one line per reason per interval; the ones in between are counted into the next. */
export class DropLog {
  private readonly last = new Map<string, { atMono: number; suppressed: number }>()

  constructor(private readonly intervalMs: number) {}

  /** How many were kept quiet since the last line, when a line is due now; null to stay quiet. */
  due(reason: string, nowMono: number): number | null {
    const last = this.last.get(reason)
    if (last && nowMono - last.atMono < this.intervalMs) {
      last.suppressed++
      return null
    }
    this.last.set(reason, { atMono: nowMono, suppressed: 0 })
    return last?.suppressed ?? 0
  }
}
