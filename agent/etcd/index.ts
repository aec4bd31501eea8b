// The etcd layer: run a member (process), talk to the cluster (client), hold the
// coordinator role (election), save and restore snapshots (snapshot). Pure helpers
// (command line, initial-cluster strings, member lists, promote errors) are exported
// for the coordinator and for tests.

export {
  type Compare,
  type ElectionLeader,
  type EndpointHealth,
  type EndpointStatus,
  EtcdClient,
  type EtcdClientInit,
  type LeaderKey,
  type TxnOp,
  type TxnResult,
} from './client.js'
export { Candidate, type CandidateInit } from './election.js'
export { EtcdError, type EtcdFailure, etcdMessageOf, etcdMessages, isTransientEtcdMessage } from './errors.js'
export type { ClientTls } from './gateway.js'
export { idHex, parseIdHex } from './ids.js'
export {
  formatInitialCluster,
  type InitialClusterEntry,
  initialClusterForJoin,
  parseInitialCluster,
} from './initial-cluster.js'
export { parseJsonKeepingBigInts } from './json-bigint.js'
export { LeaseKeeper, type LeaseLossReason } from './lease-keeper.js'
export {
  findMemberByName,
  findMemberByPeerUrl,
  type Member,
  type MemberList,
  memberSetOf,
  parseMemberList,
  parseMemberListJson,
} from './members.js'
export { type EtcdExit, EtcdProcess, type EtcdProcessInit, type EtcdProcessStatus } from './process.js'
export {
  classifyPromoteError,
  isRetryablePromoteError,
  learnerCaughtUp,
  type PromoteOutcome,
} from './promote.js'
export { checkSnapshotFile, type EtcdctlTls, EtcdTools, type SnapshotInfo } from './snapshot.js'
export {
  buildEtcdArgs,
  clientUrl,
  clientUrlOf,
  type EtcdMemberSpec,
  type EtcdTlsFiles,
  etcdFiles,
  peerUrl,
  peerUrlOf,
} from './spec.js'
export type { KeyValue } from './wire.js'
