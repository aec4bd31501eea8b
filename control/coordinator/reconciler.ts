import type { Clock } from '../../agent/core/clock.js'
import { Controller } from '../../agent/core/controller.js'
import type { Counters } from '../../agent/core/counters.js'
import type { EventLog } from '../../agent/core/event-log.js'
import type { Logger } from '../../agent/core/log.js'
import { type Random, systemRandom } from '../../agent/core/random.js'
import { etcdMessageOf, etcdMessages, isTransientEtcdMessage } from '../../agent/etcd/model/errors.js'
import { idHex } from '../../agent/etcd/model/ids.js'
import { type InitialClusterEntry, initialClusterForJoin } from '../../agent/etcd/model/initial-cluster.js'
import type { EtcdMember, MemberList } from '../../agent/etcd/model/members.js'
import { learnerCaughtUp } from '../../agent/etcd/model/promote.js'
import type { EndpointStatus, KeyValue, LeaderKey, TxnResult } from '../../agent/etcd/model/types.js'
import { placeControlPlane } from '../placement/place.js'
import type { PlacementPolicy } from '../placement/policy.js'
import type { Placement, PlacementAction } from '../placement/types.js'
import { applyDeaths, carryDeaths } from './deaths.js'
import { accessMembers, isUnstarted, memberNodeId, memberSetFrom, type ObservedNode } from './observe.js'
import {
  type ParsedPlacement,
  PLACEMENT_KEY,
  type PlacementRecord,
  type PlacementSigner,
  parsePlacementRecord,
  placementRecord,
  sameDecision,
  signPlacement,
} from './placement-record.js'
import { removalLosesQuorum } from './removal-check.js'

// The coordinator's loop, level-triggered like a Kubernetes controller: every tick it
// observes (mesh, etcd members, learner progress), asks placement for the one next
// change, records the decision in etcd, and makes that change. Nothing is remembered
// between ticks that the next coordinator would need: kill it anywhere and the next
// one finishes the job. Leadership is checked before every effect; losing the lease
// stops everything at once. The loop is a controller with one key (mayAct: the lease).

/** The slice of EtcdClient the coordinator uses (a fake in unit tests). */
export interface CoordinatorEtcd {
  memberList(): Promise<MemberList>
  memberAddLearner(peerUrls: readonly string[]): Promise<{ member: EtcdMember; members: EtcdMember[] }>
  memberPromote(id: bigint): Promise<'promoted' | 'already-voter'>
  memberRemove(id: bigint): Promise<{ removed: boolean }>
  status(endpoint: string, timeoutMs?: number): Promise<EndpointStatus>
  get(key: string): Promise<KeyValue | undefined>
  txn(t: {
    compare: readonly {
      key: string
      target: 'lease'
      op: 'equal'
      value: bigint
    }[]
    success: readonly { put: { key: string; value: string } }[]
  }): Promise<TxnResult>
}

export interface Leadership {
  isLeader(): boolean
  leaderKey(): LeaderKey | undefined
}

export interface CoordinatorInit {
  selfId: string
  /** This node's identity: the placement record is signed with it. */
  signer: PlacementSigner
  policy: PlacementPolicy
  reconcileMs: number
  peerUrlOf(address: string): string
  /** A learner that has not started is sent its assignment again after this long. */
  reassignAfterMs?: number
  /** How long one status probe of a learner may take. */
  probeTimeoutMs?: number
}

export interface CoordinatorComponents {
  etcd: CoordinatorEtcd
  leadership: Leadership
  clock: Clock
  log: Logger
  random?: Random
  events?: EventLog
  /** `homecloud_failovers_total`: one per voter this coordinator removed. */
  counters?: Counters
  /** The mesh view, this node included. */
  nodes(): ObservedNode[]
  /** Hands a node its membership (certificates, CA key, initial cluster); false if unreachable now. */
  assign(nodeId: string, memberId: bigint, initialCluster: InitialClusterEntry[]): Promise<boolean>
  /** Tells a removed node to check, stop and wipe (best effort: it also finds out by itself). */
  retire(nodeId: string, memberId: bigint): void
  /** etcd's users (etcd-auth.ts): one per member, kept in step every tick; a new member's before its assignment. */
  access?: {
    sync(members: { ids: string[]; complete: boolean }): Promise<void>
    grant(nodeId: string): Promise<void>
  }
}

export type TickResult =
  | { kind: 'not-leader' }
  | { kind: 'no-quorum'; error: string }
  | { kind: 'acted'; placement: Placement; action: PlacementAction; outcome: string }

export const reassignAfterMsDefault = 5000
/** Counted where a voter removal succeeds (the status page's failovers). */
export const FAILOVERS_TOTAL = 'homecloud_failovers_total'
/** A placement record in etcd that failed its schema or signature (then rewritten). */
export const PLACEMENT_REFUSED_TOTAL = 'homecloud_placement_refused_total'
const probeTimeoutMsDefault = 1000

export class Coordinator {
  private readonly loop: Controller
  private stopped = false
  /** Last assignment sent per member (hex id) → monotonic ms. */
  private readonly assignedAt = new Map<string, number>()
  private lastRecord: PlacementRecord | undefined
  private lastOutcome = ''

  constructor(
    private readonly init: CoordinatorInit,
    private readonly c: CoordinatorComponents,
  ) {
    const everyMs = init.reconcileMs
    this.loop = new Controller(
      {
        name: 'coordinator',
        keys: () => ['placement'],
        resyncMs: everyMs,
        syncAtStart: false,
        mayAct: () => this.lead(),
        // A failed step is retried next tick, as before: placement waits on etcd, not on us.
        backoff: { initialDelayMs: everyMs, factor: 1, delayMsMax: everyMs, jitter: 0 },
        sync: async () => {
          await this.tick()
        },
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log, counters: c.counters },
    )
  }

  start(): void {
    this.loop.start()
  }

  /** No more steps; resolves once a step in flight has finished. */
  stop(): Promise<void> {
    this.stopped = true
    return this.loop.stop()
  }

  /** The decision last written while this node leads (for the status view of its own node). */
  get placement(): PlacementRecord | undefined {
    return this.lead() ? this.lastRecord : undefined
  }

  private lead(): boolean {
    return !this.stopped && this.c.leadership.isLeader()
  }

  /** One observe → decide → act step. Public for tests. */
  async tick(): Promise<TickResult> {
    if (!this.lead()) {
      this.lastRecord = undefined
      return { kind: 'not-leader' }
    }
    const { etcd } = this.c
    let list: MemberList
    let previous: KeyValue | undefined
    try {
      list = await etcd.memberList()
      // A linearizable read: it succeeds only with a quorum behind it.
      previous = await etcd.get(PLACEMENT_KEY)
    } catch (err) {
      return { kind: 'no-quorum', error: (err as Error).message }
    }
    const nodes = this.c.nodes()
    const byId = new Map(nodes.map((n) => [n.view.id, n]))
    const nodeIdByPeerUrl = new Map<string, string>()
    for (const n of nodes) if (n.address) nodeIdByPeerUrl.set(this.init.peerUrlOf(n.address), n.view.id)

    // Who may use etcd follows who is a member; a failure here must not stop placement.
    await this.c.access
      ?.sync(accessMembers(list.members, nodeIdByPeerUrl))
      .catch((err) => this.c.log.warn({ err: (err as Error).message }, 'could not bring etcd users in step'))
    const caughtUp = await this.learnerProgress(list.members)
    const current = memberSetFrom(list.members, nodeIdByPeerUrl, caughtUp)
    // Only a record signed by a current voter is believed (its times of death move removals).
    const before = previous ? parsePlacementRecord(previous.value, new Set(current.voters)) : undefined
    if (before && !before.ok) this.refused(before.error)
    const now = this.c.clock.nowMs()
    const deaths = carryDeaths(
      [...current.voters, ...current.learners],
      new Map(nodes.map((n) => [n.view.id, n.view])),
      before?.ok ? before.record.deadSince : {},
      now,
    )
    const placement = placeControlPlane(
      applyDeaths(
        nodes.map((n) => n.view),
        deaths,
      ),
      current,
      this.init.policy,
      now,
      true,
    )
    if (!this.lead()) return { kind: 'not-leader' }
    await this.record(placement, current, before, nodes, deaths)

    // An added learner whose node never got (or lost) its assignment: send it again.
    for (const m of list.members) {
      if (!m.isLearner || !isUnstarted(m)) continue
      const id = memberNodeId(m, nodeIdByPeerUrl)
      const node = byId.get(id)
      if (!node?.view.alive || !node.address) continue
      const last = this.assignedAt.get(idHex(m.id))
      const now = this.c.clock.monoMs()
      if (last !== undefined && now - last < (this.init.reassignAfterMs ?? reassignAfterMsDefault)) continue
      if (!this.lead()) return { kind: 'not-leader' }
      await this.sendAssignment(id, m.id, list.members, node.address)
    }

    const outcome = await this.act(placement.next, list.members, nodeIdByPeerUrl, byId)
    if (outcome !== this.lastOutcome) {
      this.lastOutcome = outcome
      this.c.log.info({ next: placement.next, target: placement.target, outcome }, 'placement step')
    }
    return { kind: 'acted', placement, action: placement.next, outcome }
  }

  /** Learner caught up = its applied index close to the leader's (etcd decides for real on promote). */
  private async learnerProgress(members: readonly EtcdMember[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>()
    const learners = members.filter((m) => m.isLearner && !isUnstarted(m))
    if (learners.length === 0) return out
    const timeout = this.init.probeTimeoutMs ?? probeTimeoutMsDefault
    const voterUrls = members.filter((m) => !m.isLearner).flatMap((m) => m.clientUrls)
    let leader: EndpointStatus | undefined
    for (const url of voterUrls) {
      const s = await this.c.etcd.status(url, timeout).catch(() => undefined)
      if (!s) continue
      if (s.memberId === s.leaderId) {
        leader = s
        break
      }
      leader ??= s
    }
    for (const l of learners) {
      const url = l.clientUrls[0]
      const s = url ? await this.c.etcd.status(url, timeout).catch(() => undefined) : undefined
      out.set(idHex(l.id), leader !== undefined && s !== undefined && learnerCaughtUp(leader, s))
    }
    return out
  }

  /** A refused record is counted and replaced by this tick's own (signed) one. */
  private refused(error: string): void {
    this.c.counters?.inc(PLACEMENT_REFUSED_TOTAL)
    this.c.log.warn(
      { err: error, code: 'PLACEMENT_INVALID' },
      'refused the placement record in etcd; rewriting it',
    )
    this.c.events?.add({
      atMs: this.c.clock.nowMs(),
      kind: 'placement-refused',
      id: this.init.selfId,
      message: `refused the placement record in etcd (${error}); wrote a good one`,
    })
  }

  private async record(
    placement: Placement,
    current: ReturnType<typeof memberSetFrom>,
    before: ParsedPlacement | undefined,
    nodes: ObservedNode[],
    deaths: Record<string, number>,
  ): Promise<void> {
    const names = new Map(nodes.map((n) => [n.view.id, n.view.name]))
    const next = placementRecord(
      placement,
      current,
      { id: this.init.selfId, publicKey: this.init.signer.publicKey },
      names,
      this.c.clock.nowMs(),
      deaths,
      this.init.policy,
    )
    if (before?.ok && sameDecision(before.record, next)) {
      this.lastRecord = before.record
      return
    }
    const key = this.c.leadership.leaderKey()
    if (!key) return
    // Fenced: written only while our election key still holds our lease.
    const r = await this.c.etcd.txn({
      compare: [{ key: key.key, target: 'lease', op: 'equal', value: key.lease }],
      success: [
        { put: { key: PLACEMENT_KEY, value: JSON.stringify(signPlacement(next, this.init.signer)) } },
      ],
    })
    if (r.succeeded) this.lastRecord = next
  }

  private async sendAssignment(
    nodeId: string,
    memberId: bigint,
    members: readonly EtcdMember[],
    address: string,
  ): Promise<boolean> {
    const self = { name: nodeId, peerUrl: this.init.peerUrlOf(address) }
    try {
      await this.c.access?.grant(nodeId)
    } catch (err) {
      this.c.log.warn({ member: nodeId, err: (err as Error).message }, 'no etcd user for the new member yet')
      return false
    }
    this.assignedAt.set(idHex(memberId), this.c.clock.monoMs())
    const sent = await this.c.assign(nodeId, memberId, initialClusterForJoin(members, self))
    if (!sent) this.assignedAt.delete(idHex(memberId))
    return sent
  }

  private async act(
    action: PlacementAction,
    members: readonly EtcdMember[],
    nodeIdByPeerUrl: ReadonlyMap<string, string>,
    byId: ReadonlyMap<string, ObservedNode>,
  ): Promise<string> {
    const memberOf = (id: string) => members.find((m) => memberNodeId(m, nodeIdByPeerUrl) === id)
    const nameOf = (id: string) => byId.get(id)?.view.name ?? id
    switch (action.kind) {
      case 'none':
        return 'steady'
      case 'wait':
        return `waiting: ${action.reason}${action.id ? ` (${nameOf(action.id)})` : ''}`
      case 'add-learner': {
        const node = byId.get(action.id)
        if (!node?.address) return `cannot add ${nameOf(action.id)}: no address`
        const peerUrl = this.init.peerUrlOf(node.address)
        if (!this.lead()) return 'not leader'
        let added: { member: EtcdMember; members: EtcdMember[] }
        try {
          added = await this.c.etcd.memberAddLearner([peerUrl])
        } catch (err) {
          const said = etcdMessageOf(err)
          // etcd refuses for 5 s after a membership change (strict reconfig): next tick.
          if (isTransientEtcdMessage(said) || said === etcdMessages.tooManyLearners)
            return `add ${nameOf(action.id)} refused for now: ${said}`
          throw err
        }
        this.event('etcd-learner-added', action.id, `${nameOf(action.id)} added to etcd as a learner`)
        if (!this.lead()) return 'not leader'
        const sent = await this.sendAssignment(action.id, added.member.id, added.members, node.address)
        return `added ${nameOf(action.id)} as learner ${idHex(added.member.id)}${sent ? '' : ' (not reachable yet)'}`
      }
      case 'promote': {
        const m = memberOf(action.id)
        if (!m) return `cannot promote ${nameOf(action.id)}: not a member`
        if (!this.lead()) return 'not leader'
        try {
          const r = await this.c.etcd.memberPromote(m.id)
          this.event('etcd-voter', action.id, `${nameOf(action.id)} promoted to etcd voter`)
          return `${nameOf(action.id)}: ${r}`
        } catch (err) {
          const said = etcdMessageOf(err)
          if (said === etcdMessages.learnerNotReady || isTransientEtcdMessage(said))
            return `promote ${nameOf(action.id)} refused for now: ${said}`
          throw err
        }
      }
      case 'remove': {
        const m = memberOf(action.id)
        if (!m) return `cannot remove ${nameOf(action.id)}: not a member`
        const timeout = this.init.probeTimeoutMs ?? probeTimeoutMsDefault
        const unsafe = await removalLosesQuorum(members, m.id, (url) => this.c.etcd.status(url, timeout))
        if (unsafe) return `remove ${nameOf(action.id)} held back: ${unsafe}`
        if (!this.lead()) return 'not leader'
        try {
          await this.c.etcd.memberRemove(m.id)
        } catch (err) {
          const said = etcdMessageOf(err)
          if (isTransientEtcdMessage(said)) return `remove ${nameOf(action.id)} refused for now: ${said}`
          throw err
        }
        this.c.counters?.inc(FAILOVERS_TOTAL)
        this.event('etcd-removed', action.id, `${nameOf(action.id)} removed from etcd: ${action.reason}`)
        this.c.retire(action.id, m.id)
        return `removed ${nameOf(action.id)}: ${action.reason}`
      }
    }
  }

  private event(kind: string, id: string, message: string): void {
    this.c.log.info({ member: id, event: kind }, message)
    this.c.events?.add({ atMs: this.c.clock.nowMs(), kind, id, message })
  }
}
