import type { ClusterView } from '../cluster-schema.js'
import {
  boardWanted,
  DEFAULT_POLICY,
  FINDING_RANK,
  type Finding,
  fallbackSeats,
  nodeFindings,
  noSpare,
  quorumLost,
  seatUnfillable,
} from './findings.js'
import { plural, shortCode } from './format.js'

export type VerdictLevel = 'healthy' | 'waiting' | 'degraded' | 'at-risk' | 'quorum-lost'

export interface Verdict {
  level: VerdictLevel
  /** The one line at the top of the page (and in the tab title, first word). */
  headline: string
  /** What is wrong, most urgent first, each with what homecloud does and what to do. */
  findings: Finding[]
  /** When nothing is wrong: a line or two about the cluster. */
  details: string[]
}

/** The command that rebuilds the control plane from the newest etcd snapshot. */
export const RECOVER_COMMAND = 'homecloud recover'

function level(top: Finding | undefined): VerdictLevel {
  if (!top) return 'healthy'
  if (top.kind === 'quorum-lost') return 'quorum-lost'
  if (top.kind === 'no-spare' || top.kind === 'seat') return 'at-risk'
  // Neither is a fault: someone waits for approval; a laptop holds a Pi's seat.
  if (top.kind === 'pending' || top.kind === 'fallback') return 'healthy'
  return 'degraded'
}

function degradedHeadline(view: ClusterView, findings: readonly Finding[]): string {
  const count = (k: Finding['kind']) => findings.filter((f) => f.kind === k).length
  const parts = [
    count('node-dead') > 0 ? `${count('node-dead')} dead` : '',
    count('node-suspect') > 0 ? `${count('node-suspect')} not answering` : '',
    count('node-not-ready') > 0 ? `${count('node-not-ready')} not Ready` : '',
  ].filter(Boolean)
  return `Degraded: ${parts.join(', ')} of ${plural(view.members.filter((m) => m.state !== 'pending').length, 'node')}`
}

const HEADLINES: Partial<Record<Finding['kind'], string>> = {
  'quorum-lost': 'Quorum lost',
  'no-spare': 'At risk: no failure to spare',
  seat: 'At risk: a control-plane seat cannot be refilled',
}

/**
 * Quorum lost > no failure to spare > a seat that cannot be refilled > a dead or silent
 * node > a Node not Ready > someone waiting. Quorum is judged from etcd's view only
 * (here or through a voter): a mesh-only view never claims it lost.
 */
export function verdict(view: ClusterView, nowMs: number): Verdict {
  const self = view.members.find((m) => m.self)
  if (self?.state === 'pending')
    return {
      level: 'waiting',
      headline: `Waiting for approval: code ${self.code ?? shortCode(self.id)}`,
      findings: [],
      details: [
        `${self.name} has asked to join cluster ${view.cluster.name}. Approve it on the status page of any member, after checking the code there matches this one.`,
      ],
    }
  const findings = [
    quorumLost(view, nowMs),
    noSpare(view, nowMs),
    seatUnfillable(view),
    ...nodeFindings(view, nowMs),
    fallbackSeats(view),
  ]
    .filter((f): f is Finding => f !== null)
    .sort((a, b) => FINDING_RANK[a.kind] - FINDING_RANK[b.kind])
  const top = findings[0]
  const lv = level(top)
  const headline =
    lv === 'healthy'
      ? 'Healthy'
      : lv === 'degraded'
        ? degradedHeadline(view, findings)
        : HEADLINES[top!.kind]!
  return { level: lv, headline, findings, details: lv === 'healthy' ? healthyDetails(view) : [] }
}

function healthyDetails(view: ClusterView): string[] {
  const alive = view.members.filter((m) => m.state === 'alive').length
  const cp = view.controlPlane
  const out = [`${alive === 1 ? 'The only node is' : `All ${alive} nodes are`} alive.`]
  if (cp.voters.length === 1 && cp.source === 'etcd') {
    const policy = cp.policy ?? DEFAULT_POLICY
    out.push(
      `etcd runs on one board: it has no failure to spare until ${policy.votersTarget - 1} more boards can hold a vote (${boardWanted(policy)}).`,
    )
  }
  return out
}
