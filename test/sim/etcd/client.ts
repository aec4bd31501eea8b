import { EtcdError, etcdMessages } from '../../../agent/etcd/model/errors.js'
import type { EtcdMember, MemberList } from '../../../agent/etcd/model/members.js'
import type {
  Compare,
  EndpointHealth,
  EndpointStatus,
  KeyValue,
  LeaderKey,
  TxnOp,
  TxnResult,
} from '../../../agent/etcd/model/types.js'
import type { SimProcess } from '../process.js'
import type { EtcdStandIn } from './standin.js'
import type { SimMember } from './state.js'

// One node's etcd client against the stand-in: each request takes a network hop, is
// committed only if the node reaches a quorum (else fails as unreachable after a
// timeout, like the gateway's), and its answer reaches the node only if the process
// that asked is still the one running (a crashed agent's code never resumes).

const LATENCY_MS = 2
const TIMEOUT_MS = 1000

function refused(etcdMessage: string): EtcdError {
  return new EtcdError('ETCD_REQUEST_FAILED', etcdMessage, { etcdMessage })
}

export class SimEtcdClient {
  constructor(
    private readonly etcd: EtcdStandIn,
    private readonly nodeId: string,
    private readonly proc: SimProcess,
  ) {}

  /** Run `fn` at etcd after a hop (only with a quorum), answer in the caller's process. */
  private call<T>(fn: () => T, needsQuorum = true): Promise<T> {
    const sched = this.etcd.env.sched
    return new Promise<T>((resolve, reject) => {
      sched.after(LATENCY_MS, () => {
        if (needsQuorum && !this.etcd.reachesQuorum(this.nodeId)) {
          sched.after(TIMEOUT_MS, () =>
            this.proc.run(() => reject(new EtcdError('ETCD_UNREACHABLE', 'no etcd endpoint answered')), 'io'),
          )
          return
        }
        let out: { ok: true; v: T } | { ok: false; e: unknown }
        try {
          out = { ok: true, v: fn() }
        } catch (e) {
          out = { ok: false, e }
        }
        sched.after(LATENCY_MS, () => this.proc.run(() => (out.ok ? resolve(out.v) : reject(out.e)), 'io'))
      })
    })
  }

  private member(m: SimMember): EtcdMember {
    return {
      id: m.id,
      name: m.started ? m.nodeId : '',
      peerUrls: [m.peerUrl],
      clientUrls: m.started ? [m.clientUrl] : [],
      isLearner: m.isLearner,
    }
  }

  private list(): EtcdMember[] {
    return [...this.etcd.state.members.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((m) => this.member(m))
  }

  memberList(): Promise<MemberList> {
    return this.call(() => ({ clusterId: 1n, members: this.list() }))
  }

  memberAddLearner(peerUrls: readonly string[]): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
    return this.call(() => {
      const s = this.etcd.state
      const peerUrl = peerUrls[0]!
      if ([...s.members.values()].some((m) => m.isLearner)) throw refused(etcdMessages.tooManyLearners)
      if ([...s.members.values()].some((m) => m.peerUrl === peerUrl))
        throw refused(etcdMessages.peerUrlExists)
      const node = this.etcd.nodeOfPeerUrl(peerUrl)
      const id = s.newId()
      const m: SimMember = { id, nodeId: node, peerUrl, clientUrl: '', isLearner: true, started: false }
      m.clientUrl = this.etcd.clientUrlOfNode(node)
      s.members.set(id, m)
      this.etcd.recordChange('add', this.nodeId, node, true)
      return { member: this.member(m), members: this.list() }
    })
  }

  memberPromote(id: bigint): Promise<'promoted' | 'already-voter'> {
    return this.call(() => {
      const m = this.etcd.state.members.get(id)
      if (!m) throw refused(etcdMessages.memberNotFound)
      if (!m.isLearner) return 'already-voter'
      if (!this.etcd.caughtUp(id) || !this.etcd.env.etcdRunning(m.nodeId))
        throw refused(etcdMessages.learnerNotReady)
      m.isLearner = false
      this.etcd.recordChange('promote', this.nodeId, m.nodeId, true)
      return 'promoted'
    })
  }

  memberRemove(id: bigint): Promise<{ removed: boolean }> {
    return this.call(() => {
      const m = this.etcd.state.members.get(id)
      if (!m) return { removed: false }
      this.etcd.state.members.delete(id)
      this.etcd.recordChange('remove', this.nodeId, m.nodeId, true)
      return { removed: true }
    })
  }

  private endpointMember(endpoint: string): SimMember | undefined {
    return [...this.etcd.state.members.values()].find((m) => m.clientUrl === endpoint && m.started)
  }

  /** An endpoint answers if its node runs etcd and we can reach it; no quorum needed. */
  status(endpoint: string): Promise<EndpointStatus> {
    return this.call(() => {
      const m = this.endpointMember(endpoint)
      if (!m || !this.etcd.env.etcdRunning(m.nodeId) || !this.reach(m.nodeId))
        throw new EtcdError('ETCD_UNREACHABLE', `${endpoint} did not answer`)
      const inQuorum = this.etcd.quorum()?.includes(m.nodeId) ?? false
      const rev = this.etcd.state.revision
      return {
        endpoint,
        memberId: m.id,
        leaderId: inQuorum ? (this.etcd.state.voters()[0]?.id ?? 0n) : 0n,
        isLearner: m.isLearner,
        raftIndex: rev,
        raftTerm: 1,
        raftAppliedIndex: this.etcd.caughtUp(m.id) && inQuorum ? rev : 0,
        dbSizeBytes: 1,
        version: '3.6.0',
        errors: [],
      }
    }, false)
  }

  async health(endpoint: string): Promise<EndpointHealth> {
    try {
      await this.status(endpoint)
      return { endpoint, healthy: this.etcd.reachesQuorum(this.nodeId), tookMs: 2 }
    } catch (err) {
      return { endpoint, healthy: false, tookMs: TIMEOUT_MS, error: (err as Error).message }
    }
  }

  private reach(nodeId: string): boolean {
    return nodeId === this.nodeId || this.etcd.env.reachable(this.nodeId, nodeId)
  }

  /**
   * LocalMember's question to every other member ("is member `id` in your list?"): an
   * endpoint answers only if we reach it and it can read linearizably (it has a quorum);
   * a removed member's etcd has stopped and does not answer.
   */
  askOthers(id: bigint): Promise<(boolean | undefined)[]> {
    return this.call(() => {
      const others = [...this.etcd.state.members.values()].filter(
        (m) => m.nodeId !== this.nodeId && m.started,
      )
      return others.map((m) =>
        this.etcd.env.etcdRunning(m.nodeId) && this.reach(m.nodeId) && this.etcd.reachesQuorum(m.nodeId)
          ? this.etcd.state.members.has(id)
          : undefined,
      )
    }, false)
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.call(() => this.etcd.state.get(key))
  }

  put(key: string, value: string, opts: { lease?: bigint } = {}): Promise<number> {
    return this.call(() => this.etcd.state.put(key, value, opts.lease ?? 0n))
  }

  txn(t: {
    compare: readonly Compare[]
    success: readonly TxnOp[]
    failure?: readonly TxnOp[]
  }): Promise<TxnResult> {
    return this.call(() => {
      const r = this.etcd.state.txn(t)
      this.etcd.changed()
      return r
    })
  }

  leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttlSeconds: number }> {
    return this.call(() => {
      const id = this.etcd.state.newId()
      this.etcd.state.leases.set(id, {
        id,
        ttlSeconds,
        expiresAt: this.etcd.env.sched.now + ttlSeconds * 1000,
      })
      return { id, ttlSeconds }
    })
  }

  leaseKeepAliveOnce(id: bigint): Promise<number> {
    return this.call(() => {
      const l = this.etcd.state.leases.get(id)
      if (!l) return 0
      l.expiresAt = this.etcd.env.sched.now + l.ttlSeconds * 1000
      return l.ttlSeconds
    })
  }

  leaseRevoke(id: bigint): Promise<void> {
    return this.call(() => {
      if (this.etcd.state.revoke(id)) this.etcd.changed()
    })
  }

  /** etcd's election: a key under the election bound to the lease; the oldest such key leads. */
  campaign(
    name: string,
    lease: bigint,
    value: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<LeaderKey> {
    const key = `${name}/${lease.toString(16)}`
    return this.call(() => {
      const s = this.etcd.state
      if (!s.leases.has(lease)) throw refused(etcdMessages.leaseNotFound)
      if (!s.get(key)) s.put(key, value, lease)
    }).then(() => this.waitToLead(name, key, lease, opts.signal))
  }

  private waitToLead(name: string, key: string, lease: bigint, signal?: AbortSignal): Promise<LeaderKey> {
    return new Promise<LeaderKey>((resolve, reject) => {
      const check = () => {
        const s = this.etcd.state
        const mine = s.get(key)
        if (signal?.aborted || !mine) {
          stop()
          if (mine && signal?.aborted) s.delete(key)
          this.proc.run(() => reject(refused(etcdMessages.leaseNotFound)), 'io')
          return
        }
        if (s.prefix(`${name}/`)[0]?.key !== key || !this.etcd.reachesQuorum(this.nodeId)) return
        stop()
        const won = { name, key, rev: mine.createRevision, lease }
        this.etcd.env.sched.after(LATENCY_MS, () => this.proc.run(() => resolve(won), 'io'))
      }
      const stop = this.etcd.watch(check)
      signal?.addEventListener('abort', check)
      // Quorum can come back without any key changing: look again now and then.
      const poll = () => {
        check()
        if (this.etcd.watching(check)) this.etcd.env.sched.after(100, poll)
      }
      poll()
    })
  }

  resign(leader: LeaderKey): Promise<void> {
    return this.call(() => {
      const kv = this.etcd.state.get(leader.key)
      if (kv && kv.lease === leader.lease) this.etcd.state.delete(leader.key)
      this.etcd.changed()
    })
  }

  leader(name: string): Promise<{ key: string; value: string; lease: bigint } | undefined> {
    return this.call(() => {
      const first = this.etcd.state.prefix(`${name}/`)[0]
      return first ? { key: first.key, value: first.value, lease: first.lease } : undefined
    })
  }
}
