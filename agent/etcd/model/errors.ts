import { type ErrorCode, HomecloudError } from '../../core/errors.js'

// What etcd said when it refused, kept apart from our message so callers can decide
// (retry, treat as done) on etcd's words rather than on ours.

export interface EtcdFailure {
  endpoint?: string
  httpStatus?: number
  /** gRPC status code from the gateway body (9 FailedPrecondition, 5 NotFound, 14 Unavailable, …). */
  grpcCode?: number
  /** etcd's own message, e.g. "etcdserver: member not found". */
  etcdMessage?: string
}

export class EtcdError extends HomecloudError {
  readonly failure: EtcdFailure

  constructor(code: ErrorCode, message: string, failure: EtcdFailure = {}, hint?: string, cause?: unknown) {
    super(code, message, hint, cause === undefined ? undefined : { cause })
    this.name = 'EtcdError'
    this.failure = failure
  }
}

/** etcd's words from any error we threw (empty when it is not an etcd refusal). */
export function etcdMessageOf(err: unknown): string {
  return err instanceof EtcdError ? (err.failure.etcdMessage ?? '') : ''
}

// etcd's rpctypes messages we act on (the same words in 3.4, 3.5 and 3.6).
export const etcdMessages = {
  learnerNotReady: 'etcdserver: can only promote a learner member which is in sync with leader',
  memberNotLearner: 'etcdserver: can only promote a learner member',
  memberNotFound: 'etcdserver: member not found',
  learnerRpc: 'etcdserver: rpc not supported for learner',
  leaseNotFound: 'etcdserver: requested lease not found',
  noElectionLeader: 'election: no leader',
  tooManyLearners: 'etcdserver: too many learner members in cluster',
  peerUrlExists: 'etcdserver: Peer URLs already exists',
  /** Strict reconfig check: some voter has not been connected for 5 s (etcd's HealthInterval). */
  unhealthyCluster: 'etcdserver: unhealthy cluster',
  /** Auth is on and the request carried no token (the gateway never passes a certificate's name on). */
  userEmpty: 'etcdserver: user name is empty',
  invalidAuthToken: 'etcdserver: invalid auth token',
  permissionDenied: 'etcdserver: permission denied',
  authNotEnabled: 'etcdserver: authentication is not enabled',
  userExists: 'etcdserver: user name already exists',
  userNotFound: 'etcdserver: user name not found',
  roleExists: 'etcdserver: role name already exists',
} as const

/** Moments of leader change or overload: the same request may well succeed shortly. */
const transientMessages = [
  'etcdserver: no leader',
  'etcdserver: not leader',
  'etcdserver: leader changed',
  'etcdserver: request timed out',
  'etcdserver: unhealthy cluster',
  'etcdserver: server stopped',
  'etcdserver: too many requests',
  'etcdserver: re-configuration failed due to not enough started members',
]

export function isTransientEtcdMessage(message: string): boolean {
  return transientMessages.some((m) => message.startsWith(m))
}
