import type { ClusterView, MemberView } from '../cluster-schema.js'
import { plural, shortCode, since } from './format.js'

// What is wrong with the cluster, one finding per problem, each saying what homecloud is
// doing about it and, when it can do nothing, what the person should do. Pure functions
// of the view (served to the browser too: no imports beyond the page's own modules).

export type FindingKind =
  | 'quorum-lost'
  | 'no-spare'
  | 'seat'
  | 'node-dead'
  | 'node-suspect'
  | 'node-not-ready'
  | 'fallback'
  | 'pending'

/** Most urgent first: the verdict's headline is the first finding's. */
export const FINDING_RANK: Readonly<Record<FindingKind, number>> = {
  'quorum-lost': 0,
  'no-spare': 1,
  seat: 2,
  'node-dead': 3,
  'node-suspect': 4,
  'node-not-ready': 5,
  fallback: 6,
  pending: 7,
}

export interface Finding {
  kind: FindingKind
  /** The node it is about (its id), for the page's data-id and tests. */
  node?: string
  /** What is wrong, since when. */
  what: string
  /** What homecloud is doing about it. */
  doing: string
  /** What the person should do, when homecloud cannot fix it alone. */
  todo?: string
  /** A command to run, and where. */
  command?: { text: string; where: string }
}

type ControlPlane = ClusterView['controlPlane']
type Policy = NonNullable<ControlPlane['policy']>

export const DEFAULT_POLICY: Policy = {
  eligibleArchs: ['arm64', 'arm'],
  fsyncP99MsMax: 10,
  votersTarget: 3,
  failoverGraceMs: 30_000,
}

export function majority(n: number): number {
  return Math.floor(n / 2) + 1
}

export function nameOf(view: ClusterView, id: string): string {
  return (
    view.members.find((m) => m.id === id)?.name ??
    view.controlPlane.reasons?.find((r) => r.id === id)?.name ??
    id
  )
}

function memberOf(view: ClusterView, id: string): MemberView | undefined {
  return view.members.find((m) => m.id === id)
}

const isUp = (m: MemberView | undefined) => m?.state === 'alive' || m?.state === 'suspect'

/** "an ARM board (arm64 or arm) with an SSD or NVMe disk (fsync p99 ≤ 10 ms; SD cards are too slow)". */
export function boardWanted(policy: Policy): string {
  const archs = policy.eligibleArchs
  const arm = archs.every((a) => a === 'arm64' || a === 'arm')
  const kind = arm ? `an ARM board (${archs.join(' or ')})` : `a machine (${archs.join(' or ')})`
  return `${kind} with an SSD or NVMe disk (fsync p99 ≤ ${policy.fsyncP99MsMax} ms; SD cards are too slow)`
}

/** A node that is not yet a member but would be eligible once approved. */
function approvable(view: ClusterView, policy: Policy): MemberView[] {
  return view.members.filter(
    (m) =>
      m.state === 'pending' &&
      !m.self &&
      policy.eligibleArchs.includes(m.arch) &&
      m.fsyncP99Ms !== null &&
      m.fsyncP99Ms <= policy.fsyncP99MsMax,
  )
}

function coordinatorName(view: ClusterView): string | null {
  return view.coordinator ? nameOf(view, view.coordinator) : null
}

/** Where etcd's word comes from, for a command that must run on a voter. */
function voterHere(view: ClusterView): string {
  const self = view.members.find((m) => m.self)
  return view.controlPlane.via?.name ?? self?.name ?? 'a surviving voter'
}

export function quorumLost(view: ClusterView, nowMs: number): Finding | null {
  const cp = view.controlPlane
  if (cp.source !== 'etcd' || cp.quorum) return null
  const down = cp.voters.filter((id) => !isUp(memberOf(view, id)))
  const downText = down
    .map((id) => {
      const m = memberOf(view, id)
      return m && m.state === 'dead'
        ? `${m.name}, dead since ${since(nowMs, m.stateSinceMs)}`
        : nameOf(view, id)
    })
    .join('; ')
  return {
    kind: 'quorum-lost',
    what:
      down.length > 0
        ? `etcd has lost quorum: ${plural(down.length, 'voter')} of ${cp.voters.length} unreachable (${downText}). The control plane cannot change anything.`
        : `etcd has lost quorum (${plural(cp.voters.length, 'voter')}). The control plane cannot change anything.`,
    doing: 'does nothing destructive by itself: it waits for the voters to come back.',
    todo: 'Plug the missing voters back in. If they cannot come back, open the HTTPS status page of the surviving voter, log in and use Recover (/recover): pick the newest etcd snapshot and confirm. The coordinator then grows back to 3 voters by itself, and voters of the lost cluster that come back later move their old data aside. The same from a shell, with the agent stopped:',
    command: { text: cp.recovery ?? 'homecloud recover --state DIR', where: voterHere(view) },
  }
}

/** Boards placement would give a vote to that are not voters yet (spares, learners, chosen). */
export function spares(view: ClusterView): string[] {
  const cp = view.controlPlane
  const voters = new Set(cp.voters)
  const ids = new Set(cp.learners)
  for (const r of cp.reasons ?? []) {
    if (voters.has(r.id) || r.eligible !== true) continue
    if (isUp(memberOf(view, r.id)) || cp.learners.includes(r.id)) ids.add(r.id)
  }
  return [...ids]
}

/** What the coordinator does next, in words. */
export function nextStep(view: ClusterView, nowMs: number): string {
  const cp = view.controlPlane
  const who = coordinatorName(view)
  if (!who) return 'No coordinator is running, so nothing is being changed.'
  const n = cp.next
  const name = n?.id ? nameOf(view, n.id) : ''
  const policy = cp.policy ?? DEFAULT_POLICY
  switch (n?.kind) {
    case 'add-learner':
      return `The coordinator (${who}) is adding ${name} to etcd; it gets a vote once it has caught up.`
    case 'promote':
      return `The coordinator (${who}) is giving ${name} a vote.`
    case 'remove':
      return `The coordinator (${who}) is removing ${name} from etcd (${n.reason ?? 'no longer wanted'}).`
    case 'wait': {
      const m = n.id ? memberOf(view, n.id) : undefined
      if (n.reason === 'dead voter within grace' && m) {
        const gone = Math.max(0, Math.round((nowMs - m.stateSinceMs) / 1000))
        return `The coordinator (${who}) waits out the failover grace for ${m.name} (${gone} s of ${Math.round(policy.failoverGraceMs / 1000)} s), then removes it from etcd.`
      }
      return `The coordinator (${who}) waits: ${n.reason ?? 'nothing to do yet'}.`
    }
    default:
      return `The coordinator (${who}) keeps etcd's membership as it is.`
  }
}

export function noSpare(view: ClusterView, nowMs: number): Finding | null {
  const cp = view.controlPlane
  const n = cp.voters.length
  if (n === 0 || (cp.source === 'etcd' && !cp.quorum)) return null
  const up = cp.voters.filter((id) => isUp(memberOf(view, id)))
  if (up.length > majority(n)) return null
  // A lone board is what a new cluster looks like: said, but as the seat finding.
  if (n === 1 && up.length === 1) return null
  const down = cp.voters.filter((id) => !up.includes(id))
  const downText = down
    .map((id) => {
      const m = memberOf(view, id)
      return m
        ? `${m.name} is ${m.state} since ${since(nowMs, m.stateSinceMs)}`
        : `${nameOf(view, id)} is unknown to the mesh`
    })
    .join('; ')
  const mesh = cp.source === 'mesh' ? ' (as the mesh sees it: etcd is not reachable from this node)' : ''
  return {
    kind: 'no-spare',
    what: `etcd has no failure to spare: ${up.length} of ${plural(n, 'voter')} up${mesh}${downText ? ` (${downText})` : ''}. One more failure stops the control plane.`,
    doing: nextStep(view, nowMs),
  }
}

/** Why each board that is not a voter cannot take a seat, from placement. */
function refusals(view: ClusterView): string[] {
  const cp = view.controlPlane
  return (cp.reasons ?? [])
    .filter((r) => !cp.voters.includes(r.id) && r.eligible === false && !r.why.includes('pending'))
    .map((r) => `${r.name ?? nameOf(view, r.id)}: ${r.why.replace(/^refused: /, '')}`)
}

export function seatUnfillable(view: ClusterView): Finding | null {
  const cp = view.controlPlane
  if (cp.source !== 'etcd' || !cp.quorum || !cp.reasons) return null
  const policy = cp.policy ?? DEFAULT_POLICY
  const down = cp.voters.filter((id) => !isUp(memberOf(view, id)))
  const short = policy.votersTarget - cp.voters.length
  if ((down.length === 0 && short <= 0) || spares(view).length > 0) return null
  // A cluster of one board: nothing was lost; the healthy verdict says what a second and third add.
  if (down.length === 0 && view.members.filter((m) => m.state !== 'pending').length === 1) return null
  const why = refusals(view)
  const seat =
    down.length > 0
      ? `No board can take the seat of ${down.map((id) => nameOf(view, id)).join(' and ')}`
      : `etcd runs on ${plural(cp.voters.length, 'voter')} of the ${policy.votersTarget} wanted, and no other board can hold a vote`
  const pending = approvable(view, policy)
  const deadSpares = (cp.reasons ?? []).filter(
    (r) => !cp.voters.includes(r.id) && memberOf(view, r.id)?.state === 'dead' && /dead$/.test(r.why),
  )
  const todo = [
    ...pending.map((m) => `Approve ${m.name} (code ${m.code ?? shortCode(m.id)}): it can take the seat.`),
    `Plug in ${boardWanted(policy)}; it joins and takes the seat by itself.`,
    ...deadSpares.map((r) => `Or power ${r.name ?? nameOf(view, r.id)} back on.`),
  ]
  return {
    kind: 'seat',
    what: `${seat}${why.length > 0 ? ` (${why.join('; ')})` : ''}.`,
    doing: 'keeps etcd on the boards it has and adds a voter as soon as an eligible board is alive.',
    todo: todo.join(' '),
  }
}

/**
 * Boards of a fallback architecture holding a seat (an x86 laptop beside two Pis): not a
 * fault — etcd keeps a failure to spare — but the person should know, and what to plug in.
 */
export function fallbackSeats(view: ClusterView): Finding | null {
  const cp = view.controlPlane
  const ids = cp.fallback ?? []
  if (ids.length === 0) return null
  const policy = cp.policy ?? DEFAULT_POLICY
  const who = ids.map((id) => {
    const m = memberOf(view, id)
    return `${nameOf(view, id)}${m ? ` (${m.arch})` : ''}`
  })
  const preferred = (cp.reasons ?? []).filter(
    (r) => r.eligible === true && policy.eligibleArchs.includes(memberOf(view, r.id)?.arch ?? ''),
  ).length
  const kind = boardWanted(policy).replace(/ with .*$/, '')
  const seated = ids.filter((id) => cp.voters.includes(id)).length === ids.length
  return {
    kind: 'fallback',
    what: `${who.join(' and ')} ${seated ? (ids.length === 1 ? 'holds' : 'hold') : 'will take'} an etcd seat in place of ${kind}: only ${plural(preferred, 'such board')} can hold etcd.`,
    doing: `keeps ${plural(policy.votersTarget, 'voter')} so etcd has a failure to spare; when ${kind} can hold a vote, it joins, gets its vote, and only then does ${who.length === 1 ? 'the fallback voter leave' : 'a fallback voter leave'}, one step at a time.`,
    todo: `Plug in ${boardWanted(policy)}; the seat moves to it by itself.`,
  }
}

export function nodeFindings(view: ClusterView, nowMs: number): Finding[] {
  const out: Finding[] = []
  const voters = new Set(view.controlPlane.voters)
  for (const m of view.members) {
    if (m.state === 'dead' || m.state === 'suspect') out.push(nodeDown(m, voters.has(m.id), nowMs))
    else if (m.state === 'alive' && m.kube && m.kube.ready !== 'True')
      out.push({
        kind: 'node-not-ready',
        node: m.id,
        what: `${m.name}'s Kubernetes Node is not Ready (${m.kube.ready}${m.kube.reason ? `: ${m.kube.reason}` : ''}) although the node is alive.`,
        doing: 'keeps its kubelet running; Kubernetes schedules no new pods there while it is not Ready.',
        todo: `If it stays so, read the agent's log on ${m.name}.`,
      })
  }
  const pending = view.members.filter((m) => m.state === 'pending' && !m.self)
  if (pending.length > 0)
    out.push({
      kind: 'pending',
      what: `${plural(pending.length, 'node')} waiting for approval (below).`,
      doing: 'lets them wait, holding no certificate, until someone approves them.',
      todo: 'Approve a node only if its console shows the same code.',
    })
  return out
}

function nodeDown(m: MemberView, voter: boolean, nowMs: number): Finding {
  if (m.state === 'suspect')
    return {
      kind: 'node-suspect',
      node: m.id,
      what: `${m.name} stopped answering since ${since(nowMs, m.stateSinceMs)}.`,
      doing: `asked ${m.name} to answer; marks it dead if it stays silent.`,
    }
  const moving =
    m.kube && m.kube.ready !== 'True'
      ? ' Its Kubernetes Node is not Ready: once it has been gone past the node grace, homecloud marks it out of service and Kubernetes moves its pods to other nodes.'
      : ''
  return {
    kind: 'node-dead',
    node: m.id,
    what: `${m.name} is dead since ${since(nowMs, m.stateSinceMs)}.`,
    doing: `keeps watching for ${m.name}: it rejoins by itself when it comes back.${
      voter ? ' It is an etcd voter (see above).' : ''
    }${moving}`,
    todo: `Power ${m.name} back on, or if it is gone for good, revoke it so it can never come back with its old certificate.`,
    command: {
      text: `homecloud revoke ${m.name}`,
      where: 'any node, with the admin certificate (--admin admin.json)',
    },
  }
}
