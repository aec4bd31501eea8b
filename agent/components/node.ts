import { mkdir } from 'node:fs/promises'
import { hostname, networkInterfaces } from 'node:os'
import type { AgentConfig } from '../config/schema.js'
import type { Clock } from '../core/clock.js'
import { Counters } from '../core/counters.js'
import { EventLog } from '../core/event-log.js'
import { createLogger, type Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { type Facts, factsSummary, loadFacts } from '../facts/index.js'
import { type Identity, loadOrCreateIdentity } from '../identity/identity.js'
import type { Role } from '../mesh/record.js'
import { type StatePaths, statePaths } from '../state/paths.js'

/** What every component of one agent shares: who this node is, where its state lives, how it reports. */
export interface NodeBase {
  stateDir: string
  paths: StatePaths
  config: AgentConfig
  clock: Clock
  random: Random
  identity: Identity
  /** The identity key was made just now (a first start). */
  created: boolean
  log: Logger
  host: string
  name: string
  counters: Counters
  events: EventLog
}

/** The first non-internal IPv4 address: what a real node announces on its LAN. */
export function defaultHost(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

export async function openNode(
  stateDir: string,
  config: AgentConfig,
  clock: Clock,
  random: Random,
): Promise<NodeBase> {
  const paths = statePaths(stateDir)
  await mkdir(paths.data, { recursive: true, mode: 0o700 })
  const { identity, created } = await loadOrCreateIdentity(paths.identityKey)
  return {
    stateDir,
    paths,
    config,
    clock,
    random,
    identity,
    created,
    log: createLogger({ node: identity.id, level: config.logLevel }),
    host: config.host ?? defaultHost(),
    name: config.name ?? hostname(),
    counters: new Counters(),
    events: new EventLog(),
  }
}

export async function readFacts(n: NodeBase): Promise<Facts> {
  const facts = await loadFacts({
    dataDir: n.paths.data,
    profile: n.config.board,
    seed: n.identity.id,
    probe: n.config.fsyncProbe,
    log: n.log,
    clock: n.clock,
  })
  const stateDisk = n.config.stateDisk
  n.log.info(
    { facts: factsSummary(facts), source: facts.source, ...(stateDisk ? { stateDisk } : {}) },
    'hardware facts',
  )
  return stateDisk ? { ...facts, stateDisk } : facts
}

/**
 * The roles this node announces in its record: every node is a worker; components that
 * hold more (an etcd seat, the coordinator lease, a kubelet) add a source once built.
 */
export class RoleBoard {
  private readonly sources: (() => readonly Role[])[] = []

  add(source: () => readonly Role[]): void {
    this.sources.push(source)
  }

  roles(): Role[] {
    return ['worker', ...this.sources.flatMap((s) => s())]
  }
}
