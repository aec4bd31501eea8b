import type { MembershipTable } from './membership.js'
import { type RecordVerifier, type SignedRecord, verifyRecord } from './record.js'
import { parseWith } from './router.js'
import { DeadMessage, type MeshMessage, RecMessage, RelayMessage, SuspectMessage } from './wire.js'

export type DropReason =
  | 'malformed'
  | 'oversized'
  | 'bad-signature'
  | 'stale'
  | 'other-cluster'
  | 'impersonation'
  | 'dead-incarnation'
  | 'table-full'
  | 'not-member'
  | 'uncertified'
  | 'revoked'

export type Parsed = { ok: true; msg: MeshMessage } | { ok: false; reason: 'malformed'; detail: string }

const MESH_SCHEMAS = new Map([
  ['rec', { schema: RecMessage }],
  ['relay', { schema: RelayMessage }],
  ['suspect', { schema: SuspectMessage }],
  ['dead', { schema: DeadMessage }],
])

/** Bytes → one of the membership protocol's own messages, or why not (the field that broke). */
export function parseMessage(payload: Buffer): Parsed {
  const r = parseWith(MESH_SCHEMAS, payload)
  return r.ok ? { ok: true, msg: r.msg as MeshMessage } : r
}

export type RecordCheck = { ok: true } | { ok: false; reason: DropReason | 'self'; deadIncarnation?: number }

/**
 * The checks a record passes before it may touch the membership view, cheapest
 * first so a flood of duplicates costs no signature verifications.
 * `directFrom` is the Noise-authenticated key of the sender when the record came
 * as its sender's own heartbeat: then it must be that sender's record.
 */
export function checkRecord(
  rec: SignedRecord,
  ctx: { clusterId: string; table: MembershipTable; directFrom?: string; verifier?: RecordVerifier },
): RecordCheck {
  if (rec.body.cluster !== ctx.clusterId) return { ok: false, reason: 'other-cluster' }
  if (ctx.directFrom !== undefined && rec.body.publicKey !== ctx.directFrom) {
    return { ok: false, reason: 'impersonation' }
  }
  const cls = ctx.table.classify(rec.body)
  if (cls === 'self' || cls === 'stale') return { ok: false, reason: cls }
  // A forged record must not earn its sender a "you are dead" notice either.
  if (!(ctx.verifier ? ctx.verifier.verify(rec) : verifyRecord(rec)))
    return { ok: false, reason: 'bad-signature' }
  if (cls === 'dead-incarnation') {
    return { ok: false, reason: cls, deadIncarnation: ctx.table.get(rec.body.id)?.deadIncarnation ?? 0 }
  }
  return { ok: true }
}
