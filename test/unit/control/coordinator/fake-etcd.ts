import { EtcdError, etcdMessages } from '../../../../agent/etcd/model/errors.js'
import type { EtcdMember, MemberList } from '../../../../agent/etcd/model/members.js'
import type { EndpointStatus, KeyValue, LeaderKey, TxnResult } from '../../../../agent/etcd/model/types.js'
import type { ObservedNode } from '../../../../control/coordinator/observe.js'
import type { CoordinatorEtcd, Leadership } from '../../../../control/coordinator/reconciler.js'
import { board } from '../placement/support.js'

// An etcd that keeps a member list and a key space in memory, enough to drive the
// coordinator through whole growth and failover sequences without processes.

export const peerUrlOf = (a: string) => `https://${a}:2380`
export const clientUrlOf = (a: string) => `https://${a}:2379`

export class FakeEtcd implements CoordinatorEtcd {
  members: EtcdMember[] = []
  kv = new Map<string, string>()
  calls: string[] = []
  nextId = 0x100n
  /** Learners (hex id) whose log is close to the leader's. */
  caughtUp = new Set<bigint>()
  quorum = true
  /** Called before every effect: lets a test take leadership away mid-step. */
  beforeEffect: () => void = () => {}

  found(name: string, address: string): EtcdMember {
    const m = {
      id: this.nextId++,
      name,
      peerUrls: [peerUrlOf(address)],
      clientUrls: [clientUrlOf(address)],
      isLearner: false,
    }
    this.members.push(m)
    return m
  }

  /** The node started its member: it publishes name and client URL. */
  start(id: bigint, name: string): void {
    const m = this.members.find((x) => x.id === id)!
    m.name = name
    m.clientUrls = [m.peerUrls[0]!.replace(':2380', ':2379')]
  }

  async memberList(): Promise<MemberList> {
    if (!this.quorum) throw new EtcdError('ETCD_UNREACHABLE', 'no quorum')
    return { clusterId: 1n, members: this.members.map((m) => ({ ...m })) }
  }

  async memberAddLearner(peerUrls: readonly string[]) {
    this.beforeEffect()
    this.calls.push(`add ${peerUrls[0]}`)
    if (this.members.some((m) => m.isLearner))
      throw new EtcdError('ETCD_REQUEST_FAILED', 'x', { etcdMessage: etcdMessages.tooManyLearners })
    const member: EtcdMember = {
      id: this.nextId++,
      name: '',
      peerUrls: [...peerUrls],
      clientUrls: [],
      isLearner: true,
    }
    this.members.push(member)
    return { member: { ...member }, members: this.members.map((m) => ({ ...m })) }
  }

  async memberPromote(id: bigint): Promise<'promoted' | 'already-voter'> {
    this.beforeEffect()
    this.calls.push(`promote ${id.toString(16)}`)
    const m = this.members.find((x) => x.id === id)
    if (!m) throw new EtcdError('ETCD_MEMBER_NOT_FOUND', 'gone')
    if (!m.isLearner) return 'already-voter'
    if (!this.caughtUp.has(id))
      throw new EtcdError('ETCD_REQUEST_FAILED', 'x', { etcdMessage: etcdMessages.learnerNotReady })
    m.isLearner = false
    return 'promoted'
  }

  async memberRemove(id: bigint): Promise<{ removed: boolean }> {
    this.beforeEffect()
    this.calls.push(`remove ${id.toString(16)}`)
    const before = this.members.length
    this.members = this.members.filter((m) => m.id !== id)
    return { removed: this.members.length < before }
  }

  async status(endpoint: string): Promise<EndpointStatus> {
    const m = this.members.find((x) => x.clientUrls.includes(endpoint))
    if (!m) throw new EtcdError('ETCD_UNREACHABLE', `${endpoint} down`)
    const leader = this.members.find((x) => !x.isLearner)!
    const applied = m.isLearner && !this.caughtUp.has(m.id) ? 0 : 5000
    return {
      endpoint,
      memberId: m.id,
      leaderId: leader.id,
      isLearner: m.isLearner,
      raftIndex: 5000,
      raftTerm: 2,
      raftAppliedIndex: applied,
      dbSizeBytes: 0,
      version: '3.4.23',
      errors: [],
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    if (!this.quorum) throw new EtcdError('ETCD_UNREACHABLE', 'no quorum')
    const value = this.kv.get(key)
    return value === undefined
      ? undefined
      : { key, value, createRevision: 1, modRevision: 1, version: 1, lease: 0n }
  }

  async txn(t: Parameters<CoordinatorEtcd['txn']>[0]): Promise<TxnResult> {
    this.beforeEffect()
    const ok = t.compare.every((c) => this.leases.get(c.key) === c.value)
    if (ok) for (const op of t.success) this.kv.set(op.put.key, op.put.value)
    this.calls.push(`txn ${ok ? 'ok' : 'failed'}`)
    return { succeeded: ok, revision: 1, results: [] }
  }

  leases = new Map<string, bigint>()
}

export class FakeLeadership implements Leadership {
  leader = true
  key: LeaderKey = {
    name: '/homecloud/coordinator',
    key: '/homecloud/coordinator/abc',
    rev: 1,
    lease: 0xabcn,
  }
  isLeader(): boolean {
    return this.leader
  }
  leaderKey(): LeaderKey | undefined {
    return this.leader ? this.key : undefined
  }
}

let seq = 0
/** An observed healthy board (the placement tests' `board`), named `<id>-board`, at a fresh address. */
export function node(
  id: string,
  opts: Partial<ObservedNode['view']> & { address?: string } = {},
): ObservedNode {
  const { address, ...view } = opts
  return { address: address ?? `10.0.0.${++seq}`, view: board(id, { name: `${id}-board`, ...view }) }
}
