import { z } from 'zod'
import { Int64Number, Uint64 } from './ids.js'
import { MemberWire } from './members.js'
import type { Compare, ElectionLeader, KeyValue, TxnOp } from './types.js'

// Schemas of the JSON gateway's answers (etcd 3.4 to 3.6, grpc-gateway JSON: proto field
// names, int64 as strings, bytes as base64, zero values and empty lists left out).

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64')

export function toB64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

export function fromB64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8')
}

/** etcd's range_end for "every key starting with prefix" (prefix + 1 in the last byte). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8')
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1))
      end[i] = end[i]! + 1
      return end.toString('base64')
    }
  }
  return Buffer.from([0]).toString('base64') // all 0xff: to the end of the keyspace
}

export const Header = z
  .object({
    cluster_id: Uint64.optional(),
    member_id: Uint64.optional(),
    revision: Int64Number.optional().default(0),
    raft_term: Int64Number.optional().default(0),
  })
  .optional()
  .default({ revision: 0, raft_term: 0 })

export const KeyValueWire = z.object({
  key: b64,
  value: b64.optional().default(''),
  create_revision: Int64Number.optional().default(0),
  mod_revision: Int64Number.optional().default(0),
  version: Int64Number.optional().default(0),
  lease: Uint64.optional().default(0n),
})

export function kvFromWire(kv: z.infer<typeof KeyValueWire>): KeyValue {
  return {
    key: fromB64(kv.key),
    value: fromB64(kv.value),
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  }
}

export const RangeResponse = z.object({
  header: Header,
  kvs: z.array(KeyValueWire).optional().default([]),
  more: z.boolean().optional().default(false),
  count: Int64Number.optional().default(0),
})

export const PutResponse = z.object({ header: Header })

export const DeleteRangeResponse = z.object({
  header: Header,
  deleted: Int64Number.optional().default(0),
})

export const TxnResponse = z.object({
  header: Header,
  succeeded: z.boolean().optional().default(false),
  responses: z
    .array(
      z.object({
        response_range: RangeResponse.optional(),
        response_put: PutResponse.optional(),
        response_delete_range: DeleteRangeResponse.optional(),
      }),
    )
    .optional()
    .default([]),
})

export const MemberAddResponse = z.object({
  header: Header,
  member: MemberWire,
  members: z.array(MemberWire).optional().default([]),
})

export const MemberChangeResponse = z.object({
  header: Header,
  members: z.array(MemberWire).optional().default([]),
})

export const StatusResponse = z.object({
  header: Header,
  version: z.string(),
  dbSize: Int64Number.optional().default(0),
  leader: Uint64.optional().default(0n),
  raftIndex: Int64Number.optional().default(0),
  raftTerm: Int64Number.optional().default(0),
  raftAppliedIndex: Int64Number.optional().default(0),
  errors: z.array(z.string()).optional().default([]),
  dbSizeInUse: Int64Number.optional().default(0),
  isLearner: z.boolean().optional().default(false),
})

export const LeaseGrantResponse = z.object({
  header: Header,
  ID: Uint64,
  TTL: Int64Number,
  error: z.string().optional(),
})

/** The keepalive stream's single answer; TTL absent (0) once the lease is gone. */
export const LeaseKeepAliveResponse = z.object({
  result: z.object({
    header: Header,
    ID: Uint64.optional(),
    TTL: Int64Number.optional().default(0),
  }),
})

export const LeaseTimeToLiveResponse = z.object({
  header: Header,
  ID: Uint64,
  TTL: Int64Number,
  grantedTTL: Int64Number.optional().default(0),
})

export const LeaseRevokeResponse = z.object({ header: Header })

export const LeaderKeyWire = z.object({
  name: b64,
  key: b64,
  rev: Int64Number,
  lease: Uint64,
})

export const CampaignResponse = z.object({ header: Header, leader: LeaderKeyWire })

export const LeaderResponse = z.object({ header: Header, kv: KeyValueWire })

export const ResignResponse = z.object({ header: Header })

export const HealthBody = z.object({ health: z.enum(['true', 'false']), reason: z.string().optional() })

/**
 * GET /version: this member's release and the cluster version, which etcd raises only
 * once every member runs the newer minor (the mark an upgrade step is complete).
 * `etcdcluster` is "not_decided" while the cluster has not agreed yet.
 */
export const VersionBody = z.object({ etcdserver: z.string().max(40), etcdcluster: z.string().max(40) })

// Encoding of transactions and election answers for the JSON gateway.

export function putBody(key: string, value: string, lease?: bigint) {
  return { key: toB64(key), value: toB64(value), ...(lease ? { lease } : {}) }
}

const compareTargets = {
  create_revision: 'CREATE',
  mod_revision: 'MOD',
  version: 'VERSION',
  value: 'VALUE',
  lease: 'LEASE',
} as const

export function compareWire(c: Compare) {
  const value = c.target === 'value' ? toB64(c.value) : c.value
  return {
    key: toB64(c.key),
    target: compareTargets[c.target],
    result: c.op.toUpperCase(),
    [c.target]: value,
  }
}

export function opWire(op: TxnOp) {
  if ('put' in op) return { request_put: putBody(op.put.key, op.put.value, op.put.lease) }
  const target = 'get' in op ? op.get : op.delete
  const range = {
    key: toB64(target.key),
    ...(target.prefix ? { range_end: prefixRangeEnd(target.key) } : {}),
  }
  return 'get' in op ? { request_range: range } : { request_delete_range: range }
}

export function electionLeaderOf(kv: Parameters<typeof kvFromWire>[0]): ElectionLeader {
  const v = kvFromWire(kv)
  return { key: v.key, value: v.value, lease: v.lease, createRevision: v.createRevision }
}
