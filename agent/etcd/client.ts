import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import { type CallOptions, type ClientTls, Gateway, type GatewayInit } from './gateway.js'
import { findLeaderEndpoint } from './leader.js'
import { addLearnerWhenAllowed, promoteWhenReady, type WaitOptions } from './membership-waits.js'
import { EtcdError, etcdMessageOf, etcdMessages } from './model/errors.js'
import { type EtcdMember, type MemberList, memberFromWire, parseMemberList } from './model/members.js'
import { classifyPromoteError } from './model/promote.js'
import type {
  Compare,
  ElectionLeader,
  EndpointHealth,
  EndpointStatus,
  KeyValue,
  LeaderKey,
  RangeOptions,
  TxnOp,
  TxnOpResult,
  TxnResult,
} from './model/types.js'
import {
  CampaignResponse,
  compareWire,
  DeleteRangeResponse,
  electionLeaderOf,
  fromB64,
  HealthBody,
  kvFromWire,
  LeaderResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MemberAddResponse,
  MemberChangeResponse,
  opWire,
  PutResponse,
  prefixRangeEnd,
  putBody,
  RangeResponse,
  ResignResponse,
  StatusResponse,
  TxnResponse,
  toB64,
  VersionBody,
} from './model/wire.js'

// What the coordinator needs from etcd, over the v3 JSON gateway (see gateway.ts for
// why not etcdctl). Keys and values are UTF-8 strings; ids are bigint. Membership
// changes are idempotent where etcd allows it: removing a member that is gone and
// promoting one that is a voter already both report "nothing to do" instead of failing.

export type { ClientTls }

export interface EtcdClientInit extends GatewayInit {}

export interface EtcdClientComponents {
  clock: Clock
}

const empty = z.object({}).passthrough()

export class EtcdClient {
  private readonly gw: Gateway
  private readonly clock: Clock

  constructor(init: EtcdClientInit, components: EtcdClientComponents) {
    this.gw = new Gateway(init, components.clock)
    this.clock = components.clock
  }

  get endpoints(): readonly string[] {
    return this.gw.endpoints
  }

  close(): void {
    this.gw.close()
  }

  // ── membership ────────────────────────────────────────────────────────────────

  async memberList(opts: CallOptions = {}): Promise<MemberList> {
    const body = await this.gw.call('/v3/cluster/member/list', {}, empty, { idempotent: true, ...opts })
    return parseMemberList(body)
  }

  /** Adds a learner (a non-voting member that must then be started with state `existing`). */
  async memberAddLearner(
    peerUrls: readonly string[],
  ): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
    const r = await this.gw.call(
      '/v3/cluster/member/add',
      { peerURLs: peerUrls, isLearner: true },
      MemberAddResponse,
    )
    return { member: memberFromWire(r.member), members: r.members.map(memberFromWire) }
  }

  /** Adds a learner, waiting while etcd refuses for now (see membership-waits.ts). */
  addLearnerWhenAllowed(
    peerUrl: string,
    opts: WaitOptions = {},
  ): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
    return addLearnerWhenAllowed(this, this.clock, peerUrl, opts)
  }

  /** One promote attempt, sent to the leader (leader.ts says why); `already-voter` when an earlier attempt went through. */
  async memberPromote(id: bigint): Promise<'promoted' | 'already-voter'> {
    try {
      const leader = await findLeaderEndpoint(this)
      await this.gw.call(
        '/v3/cluster/member/promote',
        { ID: id },
        MemberChangeResponse,
        leader ? { endpoint: leader } : {},
      )
      return 'promoted'
    } catch (err) {
      const outcome = classifyPromoteError(etcdMessageOf(err))
      if (outcome === 'already-voter') return 'already-voter'
      if (outcome === 'not-found') throw notFound(id, err)
      throw err
    }
  }

  /** Promotes as soon as etcd agrees the learner has caught up (see membership-waits.ts). */
  promoteWhenReady(id: bigint, opts: WaitOptions = {}): Promise<'promoted' | 'already-voter'> {
    return promoteWhenReady(this, this.clock, id, opts)
  }

  /** Removes a member; `removed: false` when it was not there (already removed). */
  async memberRemove(id: bigint): Promise<{ removed: boolean }> {
    try {
      await this.gw.call('/v3/cluster/member/remove', { ID: id }, MemberChangeResponse)
      return { removed: true }
    } catch (err) {
      if (etcdMessageOf(err) === etcdMessages.memberNotFound) return { removed: false }
      throw err
    }
  }

  /** One call of etcd's auth API (/v3/auth/<op>): etcd-auth.ts decides which. */
  async authCall(op: string, body: unknown): Promise<Record<string, unknown>> {
    return this.gw.call(`/v3/auth/${op}`, body, empty, { idempotent: op === 'status' || op.endsWith('list') })
  }

  // ── health ────────────────────────────────────────────────────────────────────

  /** Never throws: an unreachable or unhealthy member is an answer, not an error. */
  async health(endpoint: string, timeoutMs?: number): Promise<EndpointHealth> {
    const started = this.clock.monoMs()
    const took = () => Math.round(this.clock.monoMs() - started)
    try {
      const r = await this.gw.get(endpoint, '/health', timeoutMs)
      const parsed = HealthBody.safeParse(safeJson(r.body))
      if (r.status !== 200 || !parsed.success || parsed.data.health !== 'true') {
        const reason = parsed.success ? (parsed.data.reason ?? 'unhealthy') : `HTTP ${r.status}`
        return { endpoint, healthy: false, tookMs: took(), error: reason }
      }
      return { endpoint, healthy: true, tookMs: took() }
    } catch (err) {
      return { endpoint, healthy: false, tookMs: took(), error: (err as Error).message }
    }
  }

  /** This member's etcd release and the cluster version (e.g. 3.6.17 and 3.6.0). */
  async version(endpoint: string, timeoutMs?: number): Promise<{ server: string; cluster: string }> {
    const r = await this.gw.get(endpoint, '/version', timeoutMs)
    const parsed = VersionBody.safeParse(safeJson(r.body))
    if (r.status !== 200 || !parsed.success) {
      throw new EtcdError('ETCD_RESPONSE_INVALID', `etcd /version at ${endpoint}: HTTP ${r.status}`, {
        endpoint,
        httpStatus: r.status,
      })
    }
    return { server: parsed.data.etcdserver, cluster: parsed.data.etcdcluster }
  }

  async status(endpoint: string, timeoutMs?: number): Promise<EndpointStatus> {
    const r = await this.gw.call('/v3/maintenance/status', {}, StatusResponse, { endpoint, timeoutMs })
    return {
      endpoint,
      memberId: r.header.member_id ?? 0n,
      leaderId: r.leader,
      isLearner: r.isLearner,
      raftIndex: r.raftIndex,
      raftTerm: r.raftTerm,
      raftAppliedIndex: r.raftAppliedIndex,
      dbSizeBytes: r.dbSize,
      version: r.version,
      errors: r.errors,
    }
  }

  // ── keys ──────────────────────────────────────────────────────────────────────

  /** Returns the revision of the write. */
  async put(key: string, value: string, opts: { lease?: bigint } = {}): Promise<number> {
    const r = await this.gw.call('/v3/kv/put', putBody(key, value, opts.lease), PutResponse)
    return r.header.revision
  }

  async get(key: string, opts: RangeOptions = {}): Promise<KeyValue | undefined> {
    return (await this.range({ key: toB64(key) }, opts))[0]
  }

  /** Every key under a prefix, in key order. */
  async getPrefix(prefix: string, opts: RangeOptions = {}): Promise<KeyValue[]> {
    return this.range({ key: toB64(prefix), range_end: prefixRangeEnd(prefix) }, opts)
  }

  /** Returns how many keys were deleted. */
  async delete(key: string, opts: { prefix?: boolean } = {}): Promise<number> {
    const body = { key: toB64(key), ...(opts.prefix ? { range_end: prefixRangeEnd(key) } : {}) }
    return (await this.gw.call('/v3/kv/deleterange', body, DeleteRangeResponse)).deleted
  }

  async txn(t: {
    compare: readonly Compare[]
    success: readonly TxnOp[]
    failure?: readonly TxnOp[]
  }): Promise<TxnResult> {
    const body = {
      compare: t.compare.map(compareWire),
      success: t.success.map(opWire),
      failure: (t.failure ?? []).map(opWire),
    }
    const r = await this.gw.call('/v3/kv/txn', body, TxnResponse)
    const ops = r.succeeded ? t.success : (t.failure ?? [])
    return {
      succeeded: r.succeeded,
      revision: r.header.revision,
      results: ops.map((op, i): TxnOpResult => {
        const res = r.responses[i]
        if ('put' in op)
          return { kind: 'put', revision: res?.response_put?.header.revision ?? r.header.revision }
        if ('get' in op) return { kind: 'get', kvs: (res?.response_range?.kvs ?? []).map(kvFromWire) }
        return { kind: 'delete', deleted: res?.response_delete_range?.deleted ?? 0 }
      }),
    }
  }

  /** Writes the key only if it does not exist (compare-create); true when written. */
  async createIfAbsent(key: string, value: string, opts: { lease?: bigint } = {}): Promise<boolean> {
    const r = await this.txn({
      compare: [{ key, target: 'create_revision', op: 'equal', value: 0 }],
      success: [{ put: { key, value, lease: opts.lease } }],
    })
    return r.succeeded
  }

  // ── leases ────────────────────────────────────────────────────────────────────

  async leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttlSeconds: number }> {
    const r = await this.gw.call('/v3/lease/grant', { TTL: ttlSeconds }, LeaseGrantResponse)
    if (r.error)
      throw new EtcdError('ETCD_REQUEST_FAILED', `lease grant: ${r.error}`, { etcdMessage: r.error })
    return { id: r.ID, ttlSeconds: r.TTL }
  }

  /** One keepalive; the remaining TTL in seconds, 0 when the lease no longer exists. */
  async leaseKeepAliveOnce(id: bigint, opts: CallOptions = {}): Promise<number> {
    const r = await this.gw.call('/v3/lease/keepalive', { ID: id }, LeaseKeepAliveResponse, {
      idempotent: true,
      ...opts,
    })
    return r.result.TTL
  }

  /** Remaining TTL in seconds, or -1 when the lease does not exist. */
  async leaseTimeToLive(id: bigint): Promise<number> {
    return (
      await this.gw.call('/v3/lease/timetolive', { ID: id }, LeaseTimeToLiveResponse, { idempotent: true })
    ).TTL
  }

  /** Revokes a lease and deletes its keys; a lease already gone is not an error. */
  async leaseRevoke(id: bigint): Promise<void> {
    try {
      await this.gw.call('/v3/lease/revoke', { ID: id }, LeaseRevokeResponse, { idempotent: true })
    } catch (err) {
      if (etcdMessageOf(err) !== etcdMessages.leaseNotFound) throw err
    }
  }

  // ── election (etcd's v3election service) ─────────────────────────────────────

  /**
   * Waits until this lease holds the election, however long that takes (abort with
   * `signal`: etcd then withdraws the candidacy itself). The candidacy is a key bound
   * to the lease: when the lease expires, the candidacy (or leadership) goes with it.
   */
  async campaign(
    name: string,
    lease: bigint,
    value: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<LeaderKey> {
    const r = await this.gw.call(
      '/v3/election/campaign',
      { name: toB64(name), lease, value: toB64(value) },
      CampaignResponse,
      { timeoutMs: 0, signal: opts.signal },
    )
    return {
      name: fromB64(r.leader.name),
      key: fromB64(r.leader.key),
      rev: r.leader.rev,
      lease: r.leader.lease,
    }
  }

  /** The current leader of an election, or undefined when nobody holds it. */
  async leader(name: string, opts: CallOptions = {}): Promise<ElectionLeader | undefined> {
    try {
      const r = await this.gw.call('/v3/election/leader', { name: toB64(name) }, LeaderResponse, {
        idempotent: true,
        ...opts,
      })
      return electionLeaderOf(r.kv)
    } catch (err) {
      if (etcdMessageOf(err) === etcdMessages.noElectionLeader) return undefined
      throw err
    }
  }

  /** Gives up leadership (deletes the leader key); a no-op when it is already gone. */
  async resign(leader: LeaderKey): Promise<void> {
    const body = {
      leader: { name: toB64(leader.name), key: toB64(leader.key), rev: leader.rev, lease: leader.lease },
    }
    await this.gw.call('/v3/election/resign', body, ResignResponse, { idempotent: true })
  }

  /** Every change of leader, starting with the current one, until aborted. */
  async *observe(
    name: string,
    opts: { signal?: AbortSignal; endpoint?: string } = {},
  ): AsyncGenerator<ElectionLeader> {
    for await (const result of this.gw.stream('/v3/election/observe', { name: toB64(name) }, opts)) {
      const parsed = LeaderResponse.safeParse(result)
      if (!parsed.success)
        throw new EtcdError('ETCD_RESPONSE_INVALID', `election observe: ${parsed.error.message}`)
      yield electionLeaderOf(parsed.data.kv)
    }
  }

  private async range(body: Record<string, unknown>, opts: RangeOptions): Promise<KeyValue[]> {
    const req = {
      ...body,
      ...(opts.serializable ? { serializable: true } : {}),
      ...(opts.keysOnly ? { keys_only: true } : {}),
      ...(opts.limit ? { limit: opts.limit } : {}),
      ...(opts.revision ? { revision: opts.revision } : {}),
    }
    const r = await this.gw.call('/v3/kv/range', req, RangeResponse, {
      idempotent: true,
      endpoint: opts.endpoint,
    })
    return r.kvs.map(kvFromWire)
  }
}

function notFound(id: bigint, cause: unknown): EtcdError {
  return new EtcdError(
    'ETCD_MEMBER_NOT_FOUND',
    `etcd member ${id.toString(16)} does not exist`,
    (cause as EtcdError).failure,
    undefined,
    cause,
  )
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
