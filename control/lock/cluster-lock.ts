import type { Clock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import type { Logger } from '../../agent/core/log.js'
import type { Random } from '../../agent/core/random.js'
import { idHex, parseIdHex } from '../../agent/etcd/model/ids.js'
import type { Compare, KeyValue, TxnOp, TxnResult } from '../../agent/etcd/model/types.js'
import { type LeaseApi, LeaseKeeper } from '../lease/lease-keeper.js'
import { describeHolder, LOCK_KEY, type LockOperation, type LockRecord, parseLockRecord } from './record.js'

// The cluster lock: one key bound to the holder's lease, created only if absent. The
// lease is kept alive while held (LeaseKeeper), so a holder that dies frees the lock
// within the TTL without anyone cleaning up. The fencing token is the key's create
// revision: etcd revisions only grow, so a later holder always has a larger token, and
// writes fenced on it (compare create_revision) fail for a holder that lost the lock.

export interface LockEtcd extends LeaseApi {
  txn(t: {
    compare: readonly Compare[]
    success: readonly TxnOp[]
    failure?: readonly TxnOp[]
  }): Promise<TxnResult>
  get(key: string): Promise<KeyValue | undefined>
}

export interface LockComponents {
  etcd: LockEtcd
  clock: Clock
  log: Logger
  /** For the keepalive loop's retry jitter (the simulator's is seeded). */
  random?: Random
}

export interface AcquireRequest {
  holder: string
  operation: LockOperation
  node: string
}

export const lockTtlSecondsDefault = 15

export interface HeldLock {
  readonly record: LockRecord
  /** Fencing token: the lock key's create revision. */
  readonly token: number
  /** True while the lease is certainly alive: check before every effect. */
  isValid(): boolean
  /** Throws LOCK_LOST unless isValid(). */
  assertHeld(): void
  onLost(fn: () => void): void
  /** Deletes the key (only if still ours) and revokes the lease. Never throws. */
  release(): Promise<void>
}

/** Who holds the lock now, if anyone. */
export async function readLock(
  etcd: Pick<LockEtcd, 'get'>,
): Promise<{ record: LockRecord | undefined; token: number; raw: string } | undefined> {
  const kv = await etcd.get(LOCK_KEY)
  if (!kv) return undefined
  return { record: parseLockRecord(kv.value), token: kv.createRevision, raw: kv.value }
}

/**
 * Ends the lock only while it is still the one with fencing token `token`: its key is
 * deleted and its lease revoked, so the holder's keeper learns it lost the lock (the
 * rollout takes over its own lock from a coordinator that lost its seat). False: the lock
 * changed since it was read, nothing was touched.
 */
export async function breakLock(etcd: LockEtcd, token: number): Promise<boolean> {
  const r = await etcd.txn({
    compare: [{ key: LOCK_KEY, target: 'create_revision', op: 'equal', value: token }],
    success: [{ get: { key: LOCK_KEY } }, { delete: { key: LOCK_KEY } }],
  })
  if (!r.succeeded) return false
  const kv = r.results[0]?.kind === 'get' ? r.results[0].kvs[0] : undefined
  const lease = kv ? parseIdHex(parseLockRecord(kv.value)?.lease ?? '') : undefined
  // The key is gone already; a lease that will not die here expires with its keeper.
  if (lease !== undefined) await etcd.leaseRevoke(lease).catch(() => {})
  return true
}

/** A key that must still be at the revision it was decided on (the rollout record: take.ts). */
export interface LockGuard {
  key: string
  modRevision: number
}

/** Create the key only if absent (and the guard's key unchanged); else read who holds it. */
function createTxn(record: LockRecord, lease: bigint, unchanged: LockGuard | undefined) {
  const compare: Compare[] = [{ key: LOCK_KEY, target: 'create_revision', op: 'equal', value: 0 }]
  if (unchanged)
    compare.push({ key: unchanged.key, target: 'mod_revision', op: 'equal', value: unchanged.modRevision })
  return {
    compare,
    success: [{ put: { key: LOCK_KEY, value: JSON.stringify(record), lease } }],
    failure: [{ get: { key: LOCK_KEY } }],
  }
}

function notTaken(
  r: TxnResult,
  opts: { ttlSeconds?: number; unchanged?: LockGuard },
  nowMs: number,
): HomecloudError {
  const kv = r.results[0]?.kind === 'get' ? r.results[0].kvs[0] : undefined
  if (!kv && opts.unchanged)
    return new HomecloudError(
      'LOCK_REFUSED',
      `not now: ${opts.unchanged.key} changed while the lock was asked for (nothing changed)`,
      'ask again: what holds the cluster is looked at afresh',
    )
  const other = kv ? parseLockRecord(kv.value) : undefined
  return new HomecloudError(
    'LOCK_HELD',
    `the cluster lock is held by ${describeHolder(other, nowMs)}`,
    'wait until it finishes and try again; a holder that died frees the lock by itself within ' +
      `${opts.ttlSeconds ?? lockTtlSecondsDefault} s`,
  )
}

export async function acquireLock(
  req: AcquireRequest,
  c: LockComponents,
  opts: { ttlSeconds?: number; unchanged?: LockGuard } = {},
): Promise<HeldLock> {
  const keeper = new LeaseKeeper(
    { ttlSeconds: opts.ttlSeconds ?? lockTtlSecondsDefault },
    { api: c.etcd, clock: c.clock, logger: c.log, ...(c.random ? { random: c.random } : {}) },
  )
  const lease = await keeper.start()
  const record: LockRecord = {
    v: 1,
    holder: req.holder,
    operation: req.operation,
    node: req.node,
    sinceMs: c.clock.nowMs(),
    lease: idHex(lease),
  }
  let r: TxnResult
  try {
    r = await c.etcd.txn(createTxn(record, lease, opts.unchanged))
  } catch (err) {
    await keeper.stop({ revoke: true })
    throw err
  }
  if (!r.succeeded) {
    await keeper.stop({ revoke: true })
    throw notTaken(r, opts, c.clock.nowMs())
  }
  // The key was created by this transaction: its create revision is the txn's revision.
  const token = r.revision
  c.log.info({ lock: LOCK_KEY, token, operation: req.operation, node: req.node }, 'cluster lock taken')
  let released = false
  const lostListeners: (() => void)[] = []
  keeper.onLost(() => {
    if (!released) for (const l of lostListeners) l()
  })
  return {
    record,
    token,
    isValid: () => !released && keeper.isValid(),
    assertHeld() {
      if (released || !keeper.isValid())
        throw new HomecloudError(
          'LOCK_LOST',
          `the cluster lock (token ${token}) was lost during ${req.operation} of ${req.node}`,
          'check that etcd is reachable, then run the command again: it resumes where it stopped',
        )
    },
    onLost(fn) {
      lostListeners.push(fn)
    },
    async release() {
      if (released) return
      released = true
      try {
        // Only our own key: a lock that expired and was taken by someone else stays theirs.
        await c.etcd.txn({
          compare: [{ key: LOCK_KEY, target: 'create_revision', op: 'equal', value: token }],
          success: [{ delete: { key: LOCK_KEY } }],
        })
      } catch (err) {
        c.log.warn({ err: (err as Error).message }, 'lock delete failed; the lease revoke or expiry frees it')
      }
      await keeper.stop({ revoke: true })
      c.log.info({ lock: LOCK_KEY, token }, 'cluster lock released')
    },
  }
}
