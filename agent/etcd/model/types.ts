// etcd's v3 data as our code sees it (ids as bigint, keys and values as UTF-8 strings):
// what the etcd adapter returns and what the logic in control/ declares it needs.

export interface KeyValue {
  key: string
  value: string
  createRevision: number
  modRevision: number
  version: number
  /** 0n when the key has no lease. */
  lease: bigint
}

export interface EndpointHealth {
  endpoint: string
  healthy: boolean
  tookMs: number
  error?: string
}

export interface EndpointStatus {
  endpoint: string
  memberId: bigint
  /** 0n while the member knows no leader. */
  leaderId: bigint
  isLearner: boolean
  raftIndex: number
  raftTerm: number
  raftAppliedIndex: number
  dbSizeBytes: number
  version: string
  errors: string[]
}

export interface LeaderKey {
  /** The election name. */
  name: string
  /** The winner's key: `<name>/<lease id in hex>`. */
  key: string
  rev: number
  lease: bigint
}

export interface ElectionLeader {
  key: string
  value: string
  lease: bigint
  createRevision: number
}

export type Compare =
  | { key: string; target: 'create_revision'; op: CompareOp; value: number }
  | { key: string; target: 'mod_revision'; op: CompareOp; value: number }
  | { key: string; target: 'version'; op: CompareOp; value: number }
  | { key: string; target: 'value'; op: CompareOp; value: string }
  | { key: string; target: 'lease'; op: CompareOp; value: bigint }
export type CompareOp = 'equal' | 'greater' | 'less' | 'not_equal'

export type TxnOp =
  | { put: { key: string; value: string; lease?: bigint } }
  | { get: { key: string; prefix?: boolean } }
  | { delete: { key: string; prefix?: boolean } }

export type TxnOpResult =
  | { kind: 'put'; revision: number }
  | { kind: 'get'; kvs: KeyValue[] }
  | { kind: 'delete'; deleted: number }

export interface TxnResult {
  succeeded: boolean
  revision: number
  results: TxnOpResult[]
}

export interface RangeOptions {
  /** Answer from this member's local state (no quorum needed; learners serve these). */
  serializable?: boolean
  keysOnly?: boolean
  limit?: number
  /** Read the key as it was at this revision (etcd keeps history until compaction). */
  revision?: number
  endpoint?: string
}
