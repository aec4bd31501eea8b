import type { Compare, KeyValue, TxnOp, TxnOpResult, TxnResult } from '../../../agent/etcd/model/types.js'

// The data of the simulated etcd cluster: members, keys with revisions, leases. No
// time and no network here (etcd-standin.ts adds quorum, latency and lease expiry);
// just what etcd's state machine does with each request once it is committed.

export interface SimMember {
  id: bigint
  /** The node this member belongs to (the agent names members by node id). */
  nodeId: string
  peerUrl: string
  clientUrl: string
  isLearner: boolean
  /** Started: published its name and client URL (an added learner has not, yet). */
  started: boolean
}

export interface Lease {
  id: bigint
  ttlSeconds: number
  /** Simulated time at which etcd expires it, unless kept alive. */
  expiresAt: number
}

export class EtcdState {
  readonly members = new Map<bigint, SimMember>()
  readonly kv = new Map<string, KeyValue>()
  readonly leases = new Map<bigint, Lease>()
  revision = 1
  private nextId = 0x1000n
  /** Told of every put once applied (the rollout simulator follows its record's transitions). */
  onPut: ((key: string, value: string) => void) | null = null

  newId(): bigint {
    this.nextId += 0x1d3n
    return this.nextId
  }

  voters(): SimMember[] {
    return [...this.members.values()].filter((m) => !m.isLearner)
  }

  get(key: string): KeyValue | undefined {
    return this.kv.get(key)
  }

  prefix(prefix: string): KeyValue[] {
    return [...this.kv.values()]
      .filter((kv) => kv.key.startsWith(prefix))
      .sort((a, b) => a.createRevision - b.createRevision)
  }

  put(key: string, value: string, lease = 0n): number {
    const rev = ++this.revision
    const old = this.kv.get(key)
    this.kv.set(key, {
      key,
      value,
      createRevision: old?.createRevision ?? rev,
      modRevision: rev,
      version: (old?.version ?? 0) + 1,
      lease,
    })
    this.onPut?.(key, value)
    return rev
  }

  delete(key: string, prefix = false): number {
    const keys = prefix ? [...this.kv.keys()].filter((k) => k.startsWith(key)) : this.kv.has(key) ? [key] : []
    if (keys.length > 0) this.revision++
    for (const k of keys) this.kv.delete(k)
    return keys.length
  }

  /** Deletes the lease and every key bound to it. */
  revoke(id: bigint): boolean {
    if (!this.leases.delete(id)) return false
    const keys = [...this.kv.values()].filter((kv) => kv.lease === id).map((kv) => kv.key)
    if (keys.length > 0) this.revision++
    for (const k of keys) this.kv.delete(k)
    return true
  }

  txn(t: { compare: readonly Compare[]; success: readonly TxnOp[]; failure?: readonly TxnOp[] }): TxnResult {
    const ok = t.compare.every((c) => this.holds(c))
    const ops = ok ? t.success : (t.failure ?? [])
    const results: TxnOpResult[] = ops.map((op) => {
      if ('put' in op)
        return { kind: 'put', revision: this.put(op.put.key, op.put.value, op.put.lease ?? 0n) }
      if ('get' in op) {
        const kvs = op.get.prefix
          ? this.prefix(op.get.key)
          : [this.kv.get(op.get.key)].filter((x) => x !== undefined)
        return { kind: 'get', kvs }
      }
      return { kind: 'delete', deleted: this.delete(op.delete.key, op.delete.prefix) }
    })
    return { succeeded: ok, revision: this.revision, results }
  }

  private holds(c: Compare): boolean {
    const kv = this.kv.get(c.key)
    const actual: number | string | bigint =
      c.target === 'create_revision'
        ? (kv?.createRevision ?? 0)
        : c.target === 'mod_revision'
          ? (kv?.modRevision ?? 0)
          : c.target === 'version'
            ? (kv?.version ?? 0)
            : c.target === 'lease'
              ? (kv?.lease ?? 0n)
              : (kv?.value ?? '')
    switch (c.op) {
      case 'equal':
        return actual === c.value
      case 'not_equal':
        return actual !== c.value
      case 'greater':
        return actual > c.value
      case 'less':
        return actual < c.value
    }
  }
}
