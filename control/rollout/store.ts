import { HomecloudError } from '../../agent/core/errors.js'
import type { Compare, KeyValue, TxnOp, TxnResult } from '../../agent/etcd/model/types.js'
import { signCaRecord, verifyCaRecord } from '../releases/records.js'
import { ROLLOUT_KEY, RolloutBody } from './record.js'

// The rollout record in etcd: CA-signed (only signers write it: the coordinator, or a
// signer the admin asked over 7443), versioned (a reader refuses one older than it has
// seen), and written with a compare-and-swap on the revision it was read at, so the
// admin's pause and the coordinator's next step never overwrite each other.

export interface RolloutEtcd {
  get(key: string): Promise<KeyValue | undefined>
  txn(t: {
    compare: readonly Compare[]
    success: readonly TxnOp[]
    failure?: readonly TxnOp[]
  }): Promise<TxnResult>
}

export interface ReadRollout {
  body: RolloutBody | null
  /** The key's mod revision (0: absent): the next write compares on it. */
  modRevision: number
}

export interface RolloutTrust {
  caPem: string
  clusterId: string
  /** The highest record version this reader has seen (replays below it are refused). */
  seenVersion?: number
}

/** The record, or ROLLOUT_RECORD_INVALID naming what is wrong with it. */
export async function readRollout(etcd: Pick<RolloutEtcd, 'get'>, trust: RolloutTrust): Promise<ReadRollout> {
  const kv = await etcd.get(ROLLOUT_KEY)
  if (!kv) return { body: null, modRevision: 0 }
  const v = verifyCaRecord('rollout', kv.value, RolloutBody, trust)
  if (!v.ok)
    throw new HomecloudError(
      'ROLLOUT_RECORD_INVALID',
      v.error,
      'a signer rewrites it with the next `homecloud upgrade start`; look for who wrote it (only signers may)',
    )
  return { body: v.body, modRevision: kv.modRevision }
}

/** Writes the next record if nobody wrote since `read`; false when someone did (read again). */
export async function writeRollout(
  etcd: Pick<RolloutEtcd, 'txn'>,
  read: Pick<ReadRollout, 'modRevision'>,
  body: RolloutBody,
  caKeyPem: string,
): Promise<{ ok: boolean; modRevision: number }> {
  const value = signCaRecord('rollout', RolloutBody.parse(body), caKeyPem)
  const r = await etcd.txn({
    compare: [
      read.modRevision === 0
        ? { key: ROLLOUT_KEY, target: 'create_revision', op: 'equal', value: 0 }
        : { key: ROLLOUT_KEY, target: 'mod_revision', op: 'equal', value: read.modRevision },
    ],
    success: [{ put: { key: ROLLOUT_KEY, value } }],
  })
  return { ok: r.succeeded, modRevision: r.succeeded ? r.revision : read.modRevision }
}
