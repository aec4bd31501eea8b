import type { Scheduler } from '../scheduler.js'
import { EtcdState, type SimMember } from './state.js'

// The simulated etcd cluster as a whole: which voters form a quorum (up, running etcd,
// and a majority of them able to reach each other), lease expiry on the simulated
// clock, and the log of membership changes the invariants read. Clients (client.ts)
// reach it from one node at a time, through the simulated network.

export interface StandInEnv {
  sched: Scheduler
  /** The node is up and runs its etcd member. */
  etcdRunning(nodeId: string): boolean
  reachable(a: string, b: string): boolean
  /** Whose peer URL this is, and that node's client URL (addresses are the agents'). */
  nodeOfPeerUrl(peerUrl: string): string
  clientUrlOfNode(nodeId: string): string
}

export interface MembershipChange {
  atMs: number
  kind: 'add' | 'promote' | 'remove'
  by: string
  member: string
  /** Who held the coordinator election at that moment, by etcd's own state. */
  leaderNode: string | null
  /** Quorum before and after the change. */
  quorumBefore: boolean
  quorumAfter: boolean
}

/** A learner counts as caught up this long after it started with a quorum to learn from. */
export const LEARNER_CATCH_UP_MS = 1000
const SWEEP_MS = 100

export class EtcdStandIn {
  readonly state = new EtcdState()
  readonly changes: MembershipChange[] = []
  /** Campaign waiters and the like: re-checked whenever keys go away. */
  private readonly watchers = new Set<() => void>()
  private hadQuorum = false
  private readonly startedAt = new Map<bigint, number>()

  constructor(
    readonly env: StandInEnv,
    readonly election: string,
  ) {
    env.sched.after(SWEEP_MS, () => this.sweep())
  }

  /** The node ids of the voters that form a quorum now, or null. */
  quorum(): string[] | null {
    const voters = this.state.voters()
    const running = voters.filter((m) => m.started && this.env.etcdRunning(m.nodeId)).map((m) => m.nodeId)
    const need = Math.floor(voters.length / 2) + 1
    for (const a of running) {
      const group = running.filter((b) => b === a || this.env.reachable(a, b))
      if (group.length >= need) return group
    }
    return null
  }

  /** Can a client on `from` get a request committed? */
  reachesQuorum(from: string): boolean {
    const q = this.quorum()
    return q?.some((n) => n === from || this.env.reachable(from, n)) ?? false
  }

  /** The node holding the coordinator election now, by etcd's state. */
  leaderNode(): string | null {
    const first = this.state.prefix(`${this.election}/`)[0]
    return first?.value ?? null
  }

  memberOfNode(nodeId: string): SimMember | undefined {
    return [...this.state.members.values()].find((m) => m.nodeId === nodeId)
  }

  markStarted(id: bigint): boolean {
    const m = this.state.members.get(id)
    if (!m) return false
    if (!m.started) this.startedAt.set(id, this.env.sched.now)
    m.started = true
    return true
  }

  caughtUp(id: bigint): boolean {
    const at = this.startedAt.get(id)
    return at !== undefined && this.env.sched.now - at >= LEARNER_CATCH_UP_MS
  }

  /** Record a membership change made by `by`, with what the invariants need. */
  recordChange(kind: MembershipChange['kind'], by: string, member: string, quorumBefore: boolean): void {
    this.changes.push({
      atMs: this.env.sched.now,
      kind,
      by,
      member,
      leaderNode: this.leaderNode(),
      quorumBefore,
      quorumAfter: this.quorum() !== null,
    })
  }

  watch(fn: () => void): () => void {
    this.watchers.add(fn)
    return () => this.watchers.delete(fn)
  }

  watching(fn: () => void): boolean {
    return this.watchers.has(fn)
  }

  nodeOfPeerUrl(peerUrl: string): string {
    return this.env.nodeOfPeerUrl(peerUrl)
  }

  clientUrlOfNode(nodeId: string): string {
    return this.env.clientUrlOfNode(nodeId)
  }

  changed(): void {
    for (const w of [...this.watchers]) w()
  }

  /** Found the cluster: one started voter on `nodeId`. */
  found(nodeId: string, peerUrl: string, clientUrl: string): bigint {
    const id = this.state.newId()
    this.state.members.set(id, { id, nodeId, peerUrl, clientUrl, isLearner: false, started: true })
    this.startedAt.set(id, this.env.sched.now)
    return id
  }

  /**
   * Leases expire only while a quorum exists (a leader counts them down); when a quorum
   * forms again every lease gets its full TTL afresh, as etcd renews them on a new leader.
   */
  private sweep(): void {
    const now = this.env.sched.now
    const q = this.quorum() !== null
    let gone = false
    if (q && !this.hadQuorum)
      for (const l of this.state.leases.values())
        l.expiresAt = Math.max(l.expiresAt, now + l.ttlSeconds * 1000)
    if (q)
      for (const l of [...this.state.leases.values()])
        if (l.expiresAt <= now) gone = this.state.revoke(l.id) || gone
    this.hadQuorum = q
    if (gone) this.changed()
    this.env.sched.after(SWEEP_MS, () => this.sweep())
  }
}
