import type { ClusterView, MemberView } from '../cluster-schema.js'
import { plural, shortCode, since } from './format.js'

export type VerdictLevel = 'healthy' | 'waiting' | 'degraded' | 'quorum-lost'

export interface Verdict {
  level: VerdictLevel
  /** The one line at the top of the page (and in the tab title, first word). */
  headline: string
  /** What is wrong, since when, and what homecloud is doing about it; one sentence each. */
  details: string[]
  /** A command the owner should run, shown verbatim. */
  command: string | null
}

/** The command that rebuilds the control plane from the newest etcd snapshot. */
export const RECOVER_COMMAND = 'homecloud recover'

function nameOf(view: ClusterView, id: string): string {
  return view.members.find((m) => m.id === id)?.name ?? id
}

function whatWeDo(view: ClusterView, m: MemberView): string {
  if (m.state === 'suspect') {
    return `${m.name} was asked to answer; it is marked dead if it stays silent.`
  }
  const back = `homecloud keeps watching for ${m.name}: it rejoins by itself when it comes back.`
  if (!view.coordinator) return `${back} No work is moved: the coordinator is not running yet.`
  const coordinator = `the coordinator (${nameOf(view, view.coordinator)})`
  return view.controlPlane.voters.includes(m.id)
    ? `${back} It is an etcd voter: ${coordinator} replaces it if it stays away past the failover grace.`
    : `${back} Its work is up to ${coordinator}.`
}

/**
 * Quorum lost outranks degraded outranks healthy. Quorum is only judged from etcd's
 * own view: a mesh-only view says nothing about quorum, so it never claims it lost.
 */
export function verdict(view: ClusterView, nowMs: number): Verdict {
  const total = view.members.length
  const troubled = view.members
    .filter((m) => m.state === 'dead' || m.state === 'suspect')
    .sort((a, b) => a.stateSinceMs - b.stateSinceMs)
  const pending = view.members.filter((m) => m.state === 'pending').length
  const troubleDetails = troubled.flatMap((m) => [
    `${m.name} ${m.state === 'dead' ? 'is dead' : 'stopped answering'} since ${since(nowMs, m.stateSinceMs)}.`,
    whatWeDo(view, m),
  ])
  const pendingDetail = pending > 0 ? [`${plural(pending, 'node')} waiting for approval (below).`] : []

  const cp = view.controlPlane
  if (cp.source === 'etcd' && !cp.quorum) {
    const down = cp.voters.filter((id) => view.members.find((m) => m.id === id)?.state !== 'alive')
    return {
      level: 'quorum-lost',
      headline: 'Quorum lost',
      details: [
        down.length > 0
          ? `etcd has lost quorum: ${plural(down.length, 'voter')} of ${cp.voters.length} unreachable (${down.map((id) => nameOf(view, id)).join(', ')}).`
          : `etcd has lost quorum (${plural(cp.voters.length, 'voter')}).`,
        'Nothing destructive happens automatically. If the voters cannot come back, stop the agent on this surviving voter and rebuild the control plane from the newest etcd snapshot it holds with the command below; the coordinator then grows back to 3 voters by itself.',
        ...troubleDetails,
        ...pendingDetail,
      ],
      command: cp.recovery ?? RECOVER_COMMAND,
    }
  }
  if (troubled.length > 0) {
    const dead = troubled.filter((m) => m.state === 'dead').length
    const suspect = troubled.length - dead
    const parts = [dead > 0 ? `${dead} dead` : '', suspect > 0 ? `${suspect} not answering` : '']
    return {
      level: 'degraded',
      headline: `Degraded: ${parts.filter(Boolean).join(', ')} of ${plural(total, 'node')}`,
      details: [...troubleDetails, ...pendingDetail],
      command: null,
    }
  }
  const self = view.members.find((m) => m.self)
  if (self?.state === 'pending') {
    return {
      level: 'waiting',
      headline: `Waiting for approval: code ${self.code ?? shortCode(self.id)}`,
      details: [
        `${self.name} has asked to join cluster ${view.cluster.name}. Approve it on the status page of any member, after checking the code there matches this one.`,
      ],
      command: null,
    }
  }
  const alive = total - pending
  return {
    level: 'healthy',
    headline: 'Healthy',
    details: [`${alive === 1 ? 'The only node is' : `All ${alive} nodes are`} alive.`, ...pendingDetail],
    command: null,
  }
}
