import { z } from 'zod'
import { Int64Number, Uint64 } from './ids.js'
import { MemberWire } from './members.js'

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

export interface KeyValue {
  key: string
  value: string
  createRevision: number
  modRevision: number
  version: number
  /** 0n when the key has no lease. */
  lease: bigint
}

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
