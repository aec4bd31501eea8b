import { etcdMessages, isTransientEtcdMessage } from './errors.js'

// Deciding what a refused `member promote` means (pure). etcd refuses to promote a
// learner until its log is close to the leader's; that refusal is the normal answer
// for the first moments after a learner starts, so it is retried, not reported.

export type PromoteOutcome =
  /** Learner still catching up, or a leader change: ask again shortly. */
  | 'retry'
  /** It is a voter already (an earlier attempt went through): done. */
  | 'already-voter'
  /** No such member: removed meanwhile; the caller's plan is stale. */
  | 'not-found'
  /** Anything else: do not retry blindly. */
  | 'fatal'

export function classifyPromoteError(etcdMessage: string): PromoteOutcome {
  const m = etcdMessage.trim()
  if (m === etcdMessages.learnerNotReady) return 'retry'
  if (m === etcdMessages.memberNotLearner) return 'already-voter'
  if (m === etcdMessages.memberNotFound) return 'not-found'
  if (isTransientEtcdMessage(m)) return 'retry'
  return 'fatal'
}

export function isRetryablePromoteError(etcdMessage: string): boolean {
  return classifyPromoteError(etcdMessage) === 'retry'
}

/**
 * Whether a learner looks caught up from its status and the leader's (raft indexes).
 * etcd's own rule (applied index within 90% of the leader's match index) is checked
 * by etcd on promote; this is only for the status page and for placement's hint.
 */
export function learnerCaughtUp(
  leader: { raftIndex: number },
  learner: { raftAppliedIndex: number },
  lagEntriesMax = 1000,
): boolean {
  return leader.raftIndex - learner.raftAppliedIndex <= lagEntriesMax
}
