import type { CurrentNode, NodeStep, RolloutBody, TargetRelease } from './record.js'
import {
  heldByAnotherCoordinator,
  type ObservedCluster,
  type RolloutNode,
  type RolloutPolicy,
} from './types.js'

// Which node goes next, and whether anything may start now (pure).
//
// Order: canary workers first (a worker is the cheapest node to lose, and it proves the
// release on real hardware) — unless the release moves Kubernetes, where version skew
// puts every API server before any kubelet; then the control-plane boards one at a time,
// the coordinator last of them (upgrading it hands the rollout to the next coordinator);
// then the other workers. Within a group, by name.

/** The release a node moves to (by the architecture its slots boot), or null. */
export function targetFor(r: RolloutBody, n: RolloutNode): TargetRelease | null {
  if (!r.target || !n.slots) return null
  return r.target.releases[n.slots.arch] ?? null
}

/** Booted and committed on the target. */
export function isOnTarget(n: RolloutNode, t: TargetRelease): boolean {
  return n.slots?.committed === true && n.slots.bootedRelease?.releaseId === t.id
}

/** Nodes still to upgrade: not on target, no outcome yet, with boot slots. */
export function pendingNodes(c: ObservedCluster, r: RolloutBody): RolloutNode[] {
  return c.nodes.filter((n) => {
    if (r.nodes[n.id] || n.formerIds?.some((id) => r.nodes[id])) return false
    if (n.slots?.kind === 'none' || n.noSlots) return false
    const t = targetFor(r, n)
    return !(t && isOnTarget(n, t))
  })
}

/** Kubelets wait for every API server while the release moves Kubernetes (version skew). */
export function kubeletsMustWait(c: ObservedCluster, r: RolloutBody): boolean {
  const moves = Object.values(r.target?.releases ?? {}).some((t) => t?.kubernetes)
  if (!moves) return false
  return c.nodes.some((n) => {
    if (!n.voter) return false
    const t = targetFor(r, n)
    return !t || !isOnTarget(n, t)
  })
}

export function orderedCandidates(c: ObservedCluster, r: RolloutBody): RolloutNode[] {
  const byName = (a: RolloutNode, b: RolloutNode) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const pending = pendingNodes(c, r)
  const voters = pending
    .filter((n) => n.voter)
    .sort((a, b) => Number(a.coordinator) - Number(b.coordinator) || byName(a, b))
  const workers = pending.filter((n) => !n.voter).sort(byName)
  if (kubeletsMustWait(c, r)) return voters
  const workersDone = Object.values(r.nodes).filter((o) => o.state === 'done').length
  const canaryLeft = Math.max(0, r.canary - workersDone)
  return [...workers.slice(0, canaryLeft), ...voters, ...workers.slice(canaryLeft)]
}

/**
 * Why a disruption may not start now (empty: it may): the lock, other Nodes NotReady,
 * etcd without a failure to spare, and — for a voter — a leader not yet stable.
 */
export function startBlockers(c: ObservedCluster, n: RolloutNode, p: RolloutPolicy): string[] {
  const out: string[] = []
  if (c.lock.state === 'other' && !heldByAnotherCoordinator(c.lock))
    out.push(`the cluster lock is held by ${c.lock.holder ?? 'someone else'}`)
  // A node that left for good (revoked) is down for ever: it is no second disruption.
  const notReady = c.nodes
    .filter((x) => x.id !== n.id && x.kube && !x.kube.ready && !c.left?.[x.id])
    .map((x) => x.name)
  if (c.kube && notReady.length > 0)
    out.push(`Node${notReady.length > 1 ? 's' : ''} ${notReady.join(', ')} NotReady`)
  if (c.kube) out.push(...shutdownCordons(c, n))
  return [...out, ...etcdBlockers(c, n, p)]
}

/** Cordoned by homecloud for its own shutdown (self-drain.ts), not yet undrained. */
export function cordonedForShutdown(x: RolloutNode): boolean {
  return x.kube?.unschedulable === true && x.kube.cordonedByHomecloud && x.kube.drainReason === 'shutdown'
}

/**
 * The next node: the first candidate — or, in the same group (workers or voters, never
 * the coordinator), one still cordoned by its shutdown drain: draining it again costs
 * nothing, and its upgrade ends with it uncordoned (a node back without its marker, a
 * netbooted one, would otherwise never undrain itself).
 */
export function nextCandidate(c: ObservedCluster, r: RolloutBody): RolloutNode | undefined {
  const ready = orderedCandidates(c, r).filter((n) => n.alive && n.slots)
  const first = ready[0]
  const cordoned = ready.find((n) => cordonedForShutdown(n) && n.voter === first?.voter && !n.coordinator)
  return cordoned ?? first
}

/**
 * Ready nodes still cordoned by their own shutdown drain: back, each undrains itself
 * (agent/components/self-drain.ts) under the cluster lock, which the rollout's hold
 * refuses while it has a node in progress — so the rollout waits between nodes until
 * they have, or a node back from a shutdown during a rollout stays cordoned to its end
 * (and two nodes are cordoned at once). One that is not back is NotReady (above).
 */
function shutdownCordons(c: ObservedCluster, n: RolloutNode): string[] {
  return c.nodes
    .filter((x) => x.id !== n.id && !c.left?.[x.id] && x.kube?.ready && cordonedForShutdown(x))
    .map(
      (x) =>
        `${x.name} is still cordoned by its shutdown drain: it undrains itself when back (or \`homecloud undrain ${x.name}\`)`,
    )
}

/**
 * Why etcd cannot lose `n` now (empty: it can): a voter down already, and — for a voter —
 * a leader not yet stable. Asked when a node is picked, and again right before a voter
 * reboots (a voter may die between the two: rebooting another then would lose quorum) —
 * a voter by its mesh record or by etcd's member list, which knows of a newly seated one
 * first.
 */
export function etcdBlockers(c: ObservedCluster, n: RolloutNode, p: RolloutPolicy): string[] {
  const out: string[] = []
  const want = Math.max(c.etcd.votersTarget, c.etcd.votersTotal)
  if (c.etcd.votersHealthy < want)
    out.push(`etcd has no failure to spare: ${c.etcd.votersHealthy} of ${want} voters healthy`)
  if (n.voter) {
    if (!c.etcd.leader) out.push('etcd has no leader')
    else if (c.etcd.leaderSinceMs === null || c.nowMs - c.etcd.leaderSinceMs < p.leaderStableMs)
      out.push(`etcd's leader changed less than ${Math.round(p.leaderStableMs / 1000)} s ago`)
  }
  return out
}

/**
 * Where a node starts (or resumes after it went away mid-upgrade): already booted on
 * the target but not committed → its gate; target installed and being tried → its gate
 * too (the next boot is the target's); otherwise from the drain.
 */
export function startingStep(
  n: RolloutNode,
  t: TargetRelease,
  kube: boolean,
): Pick<CurrentNode, 'step' | 'bootsAtTry'> {
  const s = n.slots
  if (s?.bootedRelease?.releaseId === t.id && !s.committed)
    return { step: 'gate', bootsAtTry: Math.max(0, s.boots - 1) }
  if (s?.trying && s.tryingRelease?.releaseId === t.id) return { step: 'gate', bootsAtTry: s.boots }
  const step: NodeStep = kube ? 'drain' : 'install'
  return { step }
}
