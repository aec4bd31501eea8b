import { bootsBeforeTry, gateVerdict, revertedHealthy } from './gate.js'
import { lockFor } from './lock-for.js'
import { etcdBlockers, nextCandidate, pendingNodes, startBlockers, startingStep, targetFor } from './order.js'
import type { CurrentNode, NodeOutcome, NodeStep, RolloutBody, TargetRelease } from './record.js'
import { bump, wait, withOutcome } from './record-edit.js'
import type {
  ObservedCluster,
  RolloutDecision,
  RolloutEffect,
  RolloutNode,
  RolloutPolicy,
  SlotOrderAction,
} from './types.js'

// The rollout's decision (pure): `nextRolloutStep(cluster, rollout) → effects`. The
// shell applies the effects in order and stops at the first that fails; the next pass
// observes again. Every transition of the node in progress is taken on what was
// *observed* (its slot report, its Node, the drain job), never on an effect having been
// sent, so a lost order is simply sent again and a new coordinator resumes from the record.
//
// Per node, under the cluster lock:
//   drain ─▶ install ─▶ try ─▶ (reboot) gate ─▶ commit ─▶ uncordon ─▶ done, lock released
//     │ timeout: uncordon, skipped (blocking budget named)
//                               gate fails ─▶ revert (back on the good slot) ─▶ uncordon,
//                                             release marked bad, rollout halted

export function nextRolloutStep(
  c: ObservedCluster,
  r: RolloutBody | null,
  p: RolloutPolicy,
): RolloutDecision {
  if (!r?.target) return { effects: [], waiting: null }
  if (r.current) return currentStep(c, r, r.current, p)
  if (r.phase !== 'running') return { effects: [], waiting: null }
  return pickNext(c, r, p)
}

function pickNext(c: ObservedCluster, r: RolloutBody, p: RolloutPolicy): RolloutDecision {
  const pending = pendingNodes(c, r)
  const gone = pending.find((n) => c.left?.[n.id])
  const noTarget = pending.find((n) => n.slots && !targetFor(r, n))
  if (gone || noTarget) {
    const n = (gone ?? noTarget) as RolloutNode
    const detail = gone
      ? `no longer a member (${c.left?.[n.id]}): not upgraded`
      : `no release for ${n.slots?.arch} in this rollout`
    const nodes = withOutcome(r, n, 'skipped', detail, c.nowMs)
    return { effects: [{ kind: 'record', body: bump(r, { nodes }) }], waiting: null }
  }
  if (pending.length === 0) return complete(c, r, p)
  const next = nextCandidate(c, r)
  if (!next) {
    const away = pending.map((n) => `${n.name} (${n.alive ? (n.slotsError ?? 'no answer') : 'down'})`)
    return wait(r, `waiting for ${away.join(', ')}: upgraded when back`)
  }
  const t = targetFor(r, next) as TargetRelease
  const fell = next.slots?.lastFallback
  if (
    fell?.releaseId === t.id &&
    fell.atMs >= r.startedAtMs &&
    !(next.slots?.bootedRelease?.releaseId === t.id)
  )
    // It went away during its try and came back on its good slot: the release failed there.
    return failAtPick(
      c,
      r,
      next,
      t,
      `it came back on ${next.slots?.bootedRelease?.version ?? 'its last good release'} by itself after its tries`,
    )
  const blockers = startBlockers(c, next, p)
  if (blockers.length > 0) return wait(r, `before ${next.name}: ${blockers.join('; ')}`)
  const current: CurrentNode = {
    node: next.id,
    name: next.name,
    arch: next.slots?.arch ?? 'amd64',
    ...startingStep(next, t, c.kube),
    startedAtMs: c.nowMs,
    stepSinceMs: c.nowMs,
    ...(next.kube ? { daemonPods: next.kube.daemonPodsReady } : {}),
  }
  const lock = lockFor(c, next.name, true) ?? [{ kind: 'take-lock', node: next.name }]
  const waiting = `${next.name}: ${current.step}`
  return { effects: [...lock, { kind: 'record', body: bump(r, { current, waiting }) }], waiting }
}

/** A node found fallen back when picked: halt as a failed gate would, and finish it as failed (uncordoned). */
function failAtPick(c: ObservedCluster, r: RolloutBody, n: RolloutNode, t: TargetRelease, reason: string) {
  const current: CurrentNode = {
    node: n.id,
    name: n.name,
    arch: n.slots?.arch ?? 'amd64',
    step: 'revert',
    startedAtMs: c.nowMs,
    stepSinceMs: c.nowMs,
  }
  const lock = lockFor(c, n.name, true) ?? [{ kind: 'take-lock', node: n.name }]
  const d = fail(c, r, current, n, t, reason, [])
  return { ...d, effects: [...lock, ...d.effects] }
}

/**
 * A fresh agent's mesh view fills within seconds (gossip; the rollout simulator under 26 %
 * loss took longer than 18 s): a view that showed no new node this long is taken as whole.
 */
const viewSettleMsMax = 30_000

function complete(c: ObservedCluster, r: RolloutBody, p: RolloutPolicy): RolloutDecision {
  // A view that still grows may lack nodes not yet upgraded (a coordinator just restarted).
  if (c.viewAgeMs !== undefined && c.viewAgeMs < Math.min(p.nodeGoneMs, viewSettleMsMax))
    return wait(
      r,
      'completing once this coordinator’s mesh view has settled (it may not show every node yet)',
    )
  const failed = Object.values(r.nodes).some((o) => o.state === 'failed')
  const sets: RolloutEffect[] = failed
    ? []
    : (['amd64', 'arm64'] as const).flatMap((arch) => {
        const release = r.target?.releases[arch]
        return release ? [{ kind: 'set-current' as const, arch, release }] : []
      })
  const lock: RolloutEffect[] = c.lock.state === 'ours' ? [{ kind: 'release-lock' }] : []
  const body = bump(r, { phase: 'completed', waiting: null })
  return { effects: [...lock, ...sets, { kind: 'record', body }], waiting: null }
}

function currentStep(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  p: RolloutPolicy,
): RolloutDecision {
  // A netbooted machine comes back from its reboot under a new id (successors.ts).
  const n = c.nodes.find((x) => x.id === cur.node) ?? c.nodes.find((x) => x.formerIds?.includes(cur.node))
  const t = r.target?.releases[cur.arch] ?? null
  const left = c.left?.[cur.node]
  // Gone for good (revoked): nothing to wait for or undo on it; the lock goes to the next node.
  if (left)
    return finish(c, r, cur, 'skipped', `left the cluster during its ${cur.step} (${left}): not upgraded`)
  if (!n) return wait(r, `${cur.name}: not in this coordinator's mesh view (yet)`)
  if (!t) return finish(c, r, cur, 'skipped', `no release for ${cur.arch} in this rollout`)
  if (!n.alive && n.deadSinceMs !== null && c.nowMs - n.deadSinceMs >= p.nodeGoneMs) {
    const lock: RolloutEffect[] = c.lock.state === 'ours' ? [{ kind: 'release-lock' }] : []
    const waiting = `${n.name} went away during its ${cur.step}: the lock is freed; it is upgraded when it comes back`
    return { effects: [...lock, { kind: 'record', body: bump(r, { current: null, waiting }) }], waiting }
  }
  const relock = lockFor(c, n.name, false)
  if (relock === null)
    return wait(r, `${n.name}: the cluster lock is held by ${c.lock.holder ?? 'someone else'}`)
  const d = stepOf(c, r, cur, n, t, p)
  return { ...d, effects: [...relock, ...d.effects] }
}

function stepOf(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  t: TargetRelease,
  p: RolloutPolicy,
): RolloutDecision {
  switch (cur.step) {
    case 'drain':
      return drainStep(c, r, cur, n, p)
    case 'install':
      return installed(n, t)
        ? advance(c, r, cur, 'try')
        : order(
            c,
            r,
            cur,
            n,
            'install',
            p,
            { release: t },
            `${n.name}: installing ${t.version} into its other slot`,
          )
    case 'try':
      return n.slots?.trying && n.slots.tryingRelease?.releaseId === t.id
        ? advance(c, r, cur, 'gate', { bootsAtTry: bootsBeforeTry(n.slots) })
        : order(
            c,
            r,
            cur,
            n,
            'try',
            p,
            { tries: p.triesPerBoot },
            `${n.name}: setting its next boot to ${t.version}`,
          )
    case 'gate':
      return gateStep(c, r, cur, n, t, p)
    case 'commit':
      return n.slots?.committed && n.slots.bootedRelease?.releaseId === t.id
        ? advance(c, r, cur, 'uncordon')
        : order(c, r, cur, n, 'commit', p, {}, `${n.name}: committing ${t.version}`)
    case 'uncordon':
      return cur.skip
        ? uncordonStep(c, r, cur, n, 'skipped', cur.skip)
        : uncordonStep(c, r, cur, n, 'done', `on ${t.version}`)
    case 'revert':
      return revertStep(c, r, cur, n, t, p)
  }
}

/** The target sits in a slot that is not the good one (written, not yet tried). */
function installed(n: RolloutNode, t: TargetRelease): boolean {
  const s = n.slots
  if (!s) return false
  return (['a', 'b'] as const).some((x) => x !== s.good && s.installed[x]?.releaseId === t.id)
}

function advance(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  step: NodeStep,
  extra: Partial<CurrentNode> = {},
): RolloutDecision {
  const { orderedAtMs: _sent, ...rest } = cur
  const current: CurrentNode = { ...rest, ...extra, step, stepSinceMs: c.nowMs }
  const waiting = `${cur.name}: ${step}`
  return { effects: [{ kind: 'record', body: bump(r, { current, waiting }) }], waiting }
}

/** Send an order, at most once per `resendMs` (the record says when it was last sent). */
function order(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  action: SlotOrderAction,
  p: RolloutPolicy,
  extra: { release?: TargetRelease; tries?: number },
  waiting: string,
): RolloutDecision {
  if (!n.alive || !n.slots)
    return wait(r, `${waiting}: waiting for ${n.name} to answer (${n.slotsError ?? 'down'})`)
  if (cur.orderedAtMs !== undefined && c.nowMs - cur.orderedAtMs < p.resendMs) return wait(r, waiting)
  const current = { ...cur, orderedAtMs: c.nowMs }
  return {
    effects: [
      { kind: 'record', body: bump(r, { current, waiting }) },
      { kind: 'order', node: n.id, action, ...extra },
    ],
    waiting,
  }
}

function drainStep(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  p: RolloutPolicy,
): RolloutDecision {
  if (!c.kube) return advance(c, r, cur, 'install')
  const job = c.drain?.node === n.name ? c.drain : null
  const k = n.kube
  if (job?.state === 'running') return wait(r, `${n.name}: draining (${job.detail})`)
  if (job?.state === 'drained' || (k?.drainStatus === 'drained' && k.unschedulable))
    return advance(c, r, cur, 'install')
  const gaveUp = job ? job.detail : k?.drainStatus === 'gave-up' ? k.drainMessage : null
  if (gaveUp !== null) {
    const skip = `drain did not finish, skipped and uncordoned: ${gaveUp ?? 'no reason given'}`.slice(0, 400)
    return advance(c, r, cur, 'uncordon', { skip })
  }
  if (!k) return wait(r, `${n.name}: waiting for its Kubernetes Node`)
  return {
    effects: [{ kind: 'drain', node: n.name, timeoutMs: p.drainTimeoutMs }],
    waiting: `${n.name}: draining`,
  }
}

function gateStep(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  t: TargetRelease,
  p: RolloutPolicy,
): RolloutDecision {
  const v = gateVerdict(n, cur, t, c.kube)
  if (v.kind === 'pass') return advance(c, r, cur, 'commit')
  if (v.kind === 'fell-back') return fail(c, r, cur, n, t, v.reason, [])
  if (v.kind === 'not-rebooted') {
    const held = n.voter || n.etcdHealthy ? etcdBlockers(c, n, p) : []
    if (held.length > 0) return wait(r, `${n.name}: waits to reboot into ${t.version}: ${held.join('; ')}`)
    return order(c, r, cur, n, 'reboot', p, {}, `${n.name}: rebooting into ${t.version}`)
  }
  const what = `${n.name}: health gate waits for ${v.for.join(', ')}`
  // Down is not a failed gate: it is deferred once gone nodeGoneMs (a new coordinator's view starts afresh).
  // Timed by this coordinator's own watch (stepAgeMs): the record's time is some coordinator's clock.
  if (!n.alive || (c.stepAgeMs ?? c.nowMs - cur.stepSinceMs) < p.gateTimeoutMs) return wait(r, what)
  const reason = `not healthy ${Math.round(p.gateTimeoutMs / 1000)} s after booting ${t.version}: waited for ${v.for.join(', ')}; sent back to its last good slot`
  const back: RolloutEffect[] = n.alive && n.slots ? [{ kind: 'order', node: n.id, action: 'fallback' }] : []
  return fail(c, r, cur, n, t, reason, back)
}

/** The gate failed: record it at once (release bad, rollout halted), then revert this node only. */
function fail(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  t: TargetRelease,
  reason: string,
  effects: RolloutEffect[],
): RolloutDecision {
  const bad = [
    ...r.bad.filter((b) => b.id !== t.id),
    { id: t.id, version: t.version, node: n.name, reason: reason.slice(0, 400), atMs: c.nowMs },
  ].slice(-64)
  const { orderedAtMs: _sent, ...rest } = cur
  const current: CurrentNode = {
    ...rest,
    step: 'revert',
    stepSinceMs: c.nowMs,
    failure: reason.slice(0, 400),
    ...(effects.length > 0 ? { orderedAtMs: c.nowMs } : {}),
  }
  const halt = {
    node: n.name,
    reason: `${t.version} failed on ${n.name}: ${reason}`.slice(0, 400),
    atMs: c.nowMs,
  }
  const waiting = `${n.name}: going back to its last good release`
  const body = bump(r, { phase: 'halted', halt, bad, current, waiting })
  return { effects: [{ kind: 'record', body }, ...effects], waiting }
}

function revertStep(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  t: TargetRelease,
  p: RolloutPolicy,
): RolloutDecision {
  // Still on the target, uncommitted: the fallback order was not taken yet.
  if (n.slots?.bootedRelease?.releaseId === t.id && !n.slots.committed)
    return order(c, r, cur, n, 'fallback', p, {}, `${n.name}: sending it back to its last good slot`)
  const left = revertedHealthy(n, t, c.kube)
  if (left.length > 0) return wait(r, `${n.name}: reverting, waits for ${left.join(', ')}`)
  return uncordonStep(c, r, cur, n, 'failed', cur.failure ?? 'the health gate failed')
}

/** Uncordon what homecloud cordoned; once the Node shows it, the node is finished and the lock freed. */
function uncordonStep(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  n: RolloutNode,
  outcome: NodeOutcome['state'],
  detail: string,
): RolloutDecision {
  const k = n.kube
  if (c.kube && k && ((k.unschedulable && k.cordonedByHomecloud) || k.drainStatus !== null))
    return { effects: [{ kind: 'undrain', node: n.name }], waiting: `${n.name}: uncordoning` }
  return finish(c, r, cur, outcome, detail, n)
}

function finish(
  c: ObservedCluster,
  r: RolloutBody,
  cur: CurrentNode,
  outcome: NodeOutcome['state'],
  detail: string,
  n?: RolloutNode,
): RolloutDecision {
  const who = n ?? ({ id: cur.node, name: cur.name } as RolloutNode)
  const nodes = withOutcome(r, who, outcome, detail, c.nowMs)
  const lock: RolloutEffect[] = c.lock.state === 'ours' ? [{ kind: 'release-lock' }] : []
  // Record first: the node's outcome must survive a crash between the two.
  const body = bump(r, { nodes, current: null, waiting: null })
  return { effects: [{ kind: 'record', body }, ...lock], waiting: null }
}
