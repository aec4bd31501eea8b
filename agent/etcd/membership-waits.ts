import type { Clock } from '../core/clock.js'
import { EtcdError, etcdMessageOf, etcdMessages, isTransientEtcdMessage } from './model/errors.js'
import { type EtcdMember, findMemberByPeerUrl, type MemberList } from './model/members.js'
import { classifyPromoteError } from './model/promote.js'

// Membership changes that etcd refuses "for now": asked again until etcd agrees or the
// wait is over. The single calls are EtcdClient's (client.ts); these loops only retry.

/** The calls the waits make (EtcdClient's). */
export interface MembershipCalls {
  memberList(): Promise<MemberList>
  memberAddLearner(peerUrls: readonly string[]): Promise<{ member: EtcdMember; members: EtcdMember[] }>
  memberPromote(id: bigint): Promise<'promoted' | 'already-voter'>
}

export interface WaitOptions {
  /** Give up after this long (the last refusal, or ETCD_LEARNER_NOT_READY for a promotion). */
  timeoutMs?: number
  intervalMs?: number
}

export const promoteTimeoutMsDefault = 60_000
export const promoteIntervalMsDefault = 200
/** Covers etcd's 5 s wait after a membership change, with room for a leader election. */
export const addTimeoutMsDefault = 20_000

/**
 * Adds a learner, waiting while etcd refuses for now: with strict reconfig checks
 * (kept on) etcd answers "unhealthy cluster" until every voter has been connected
 * for 5 s, e.g. right after a promotion. If an earlier attempt went through (the
 * answer was lost), the existing learner with that peer URL is returned.
 */
export async function addLearnerWhenAllowed(
  client: MembershipCalls,
  clock: Clock,
  peerUrl: string,
  opts: WaitOptions = {},
): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
  const deadline = clock.monoMs() + (opts.timeoutMs ?? addTimeoutMsDefault)
  for (;;) {
    try {
      return await client.memberAddLearner([peerUrl])
    } catch (err) {
      const said = etcdMessageOf(err)
      if (said === etcdMessages.peerUrlExists) {
        const { members } = await client.memberList()
        const member = findMemberByPeerUrl(members, peerUrl)
        if (member?.isLearner) return { member, members }
        throw err
      }
      const retry =
        isTransientEtcdMessage(said) || (err instanceof EtcdError && err.code === 'ETCD_UNREACHABLE')
      if (!retry || clock.monoMs() >= deadline) throw err
    }
    await sleep(clock, opts.intervalMs ?? promoteIntervalMsDefault)
  }
}

/** Promotes as soon as etcd agrees the learner has caught up (it refuses until then). */
export async function promoteWhenReady(
  client: MembershipCalls,
  clock: Clock,
  id: bigint,
  opts: WaitOptions = {},
): Promise<'promoted' | 'already-voter'> {
  const deadline = clock.monoMs() + (opts.timeoutMs ?? promoteTimeoutMsDefault)
  let last: unknown
  for (;;) {
    try {
      return await client.memberPromote(id)
    } catch (err) {
      last = err
      const retry =
        classifyPromoteError(etcdMessageOf(err)) === 'retry' ||
        (err instanceof EtcdError && err.code === 'ETCD_UNREACHABLE')
      if (!retry) throw err
    }
    if (clock.monoMs() >= deadline) {
      throw new EtcdError(
        'ETCD_LEARNER_NOT_READY',
        `learner ${id.toString(16)} was not promoted within ${opts.timeoutMs ?? promoteTimeoutMsDefault} ms: ${
          (last as Error).message
        }`,
        (last as EtcdError).failure ?? {},
        'check that the learner runs and can reach the leader on port 2380',
      )
    }
    await sleep(clock, opts.intervalMs ?? promoteIntervalMsDefault)
  }
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}
