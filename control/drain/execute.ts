import { backoffDelayMs } from '../../agent/core/backoff.js'
import type { Clock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { type Random, systemRandom } from '../../agent/core/random.js'
import { type KubeApi, patchNodeFresh } from '../kubeapi/types.js'
import type { HeldLock } from '../lock/cluster-lock.js'
import type { LockOperation } from '../lock/record.js'
import { cordonPatch, drainStateOf, statusPatch, undrainPatch } from './annotations.js'
import { classifyEviction, type EvictionVerdict, evictionBackoff } from './eviction.js'
import { type DrainPlan, formatPlan, type PodRef, planDrain } from './plan.js'

// The drain itself: under the cluster lock, cordon (recording that homecloud did),
// evict every planned pod through the Eviction API and wait until they are gone. Pods
// are never deleted directly, so a PodDisruptionBudget is always asked. A blocked
// eviction is retried with a jittered back-off; at the timeout the caller's policy
// decides: `wait` keeps going, `give-up` leaves the node cordoned and marked `gave-up`.
// The lock is checked before every effect and released whatever happens.

export type TimeoutPolicy = 'wait' | 'give-up'

export interface DrainRequest {
  node: string
  dryRun: boolean
  force: boolean
  timeoutMs: number
  onTimeout: TimeoutPolicy
  /** Why, written on the Node (`shutdown`: the rollout waits for such a node to undrain itself). */
  reason?: string
}

export interface DrainDeps {
  kube: KubeApi
  /** Takes the cluster lock (preconditions checked there); throws LOCK_HELD / LOCK_REFUSED. */
  lock(operation: LockOperation, node: string): Promise<HeldLock>
  clock: Clock
  /** One human line per step. */
  progress(line: string): void
  random?: Random
  pollMs?: number
}

export interface DrainResult {
  /** The plan shown before the cordon (the executor re-plans after it, for late pods). */
  plan: DrainPlan
  outcome: 'dry-run' | 'drained'
  evicted: number
  durationMs: number
}

export const drainPollMsDefault = 500

export async function drainNode(req: DrainRequest, d: DrainDeps): Promise<DrainResult> {
  const started = d.clock.monoMs()
  const first = await d.kube.getNode(req.node)
  if (!first) throw unknownNode(req.node)
  if (req.dryRun) {
    const plan = planDrain(req.node, await d.kube.podsOnNode(req.node), await d.kube.listPdbs(), req)
    for (const l of formatPlan(plan)) d.progress(l)
    return { plan, outcome: 'dry-run', evicted: 0, durationMs: d.clock.monoMs() - started }
  }
  refuseIfDrained(req.node, first)
  const held = await d.lock('drain', req.node)
  try {
    // Read again under the lock: another drain may have finished in between.
    const node = await d.kube.getNode(req.node)
    if (!node) throw unknownNode(req.node)
    refuseIfDrained(req.node, node)
    const plan = planDrain(req.node, await d.kube.podsOnNode(req.node), await d.kube.listPdbs(), req)
    for (const l of formatPlan(plan)) d.progress(l)
    if (plan.refusals.length > 0)
      throw new HomecloudError(
        'DRAIN_UNMANAGED_PODS',
        `${req.node} was not drained (nothing changed): ${plan.refusals.join('; ')}`,
        'move or delete those pods yourself, or pass --force to evict them for good',
      )
    await patchNodeFresh(d.kube, req.node, (n) => {
      held.assertHeld()
      return cordonPatch(n, held.token, new Date(d.clock.nowMs()).toISOString(), req.reason)
    })
    d.progress(`cordoned ${req.node} (lock token ${held.token})`)
    // A pod bound between the plan and the cordon would be missed: plan once more, now
    // that nothing new can land. A late pod without a controller is left and named.
    const final = planDrain(req.node, await d.kube.podsOnNode(req.node), await d.kube.listPdbs(), req)
    for (const r of final.refusals) d.progress(`warning: left in place: ${r}`)
    const evicted = await evictAll(req, d, held, final)
    held.assertHeld()
    await d.kube.patchNode(req.node, statusPatch('drained', null))
    const durationMs = d.clock.monoMs() - started
    await d.kube.nodeEvent(
      req.node,
      'Normal',
      'HomecloudDrained',
      `drained by homecloud: ${evicted} pods evicted`,
    )
    d.progress(`${req.node} drained: ${evicted} pod(s) evicted in ${(durationMs / 1000).toFixed(1)} s`)
    return { plan, outcome: 'drained', evicted, durationMs }
  } finally {
    await held.release()
  }
}

async function evictAll(req: DrainRequest, d: DrainDeps, held: HeldLock, plan: DrainPlan): Promise<number> {
  const random = d.random ?? systemRandom()
  const pollMs = d.pollMs ?? drainPollMsDefault
  const pending = new Map(plan.evict.map((p) => [podKey(p), { pod: p, attempt: 0, nextAtMono: 0 }]))
  const leaving = new Map<string, PodRef>(
    plan.skipped.filter((s) => s.reason === 'terminating').map((s) => [podKey(s), s]),
  )
  const blocked = new Map<string, EvictionVerdict>()
  const deadline = d.clock.monoMs() + req.timeoutMs
  let evicted = 0
  let timeoutAnnounced = false
  let lastSummaryMono = 0
  for (;;) {
    for (const [k, entry] of pending) {
      if (d.clock.monoMs() < entry.nextAtMono) continue
      held.assertHeld()
      const answer = await d.kube.evict(entry.pod.namespace, entry.pod.name)
      const verdict = classifyEviction(answer, entry.pod.namespace, entry.pod.pdbs)
      if (verdict.kind === 'evicted' || verdict.kind === 'gone') {
        pending.delete(k)
        blocked.delete(k)
        if (verdict.kind === 'evicted') {
          evicted++
          leaving.set(k, entry.pod)
          d.progress(`evicted ${k}`)
        } else d.progress(`${k} already gone`)
        continue
      }
      const before = blocked.get(k)
      blocked.set(k, verdict)
      if (!before || describe(before) !== describe(verdict))
        d.progress(`${k}: ${describe(verdict)}; retrying`)
      entry.nextAtMono = d.clock.monoMs() + backoffDelayMs(++entry.attempt, evictionBackoff, random.next())
    }
    for (const [k, pod] of leaving) {
      const now = await d.kube.getPod(pod.namespace, pod.name)
      if (!now || (pod.uid !== '' && now.metadata?.uid !== pod.uid)) {
        leaving.delete(k)
        d.progress(`${k} is gone`)
      }
    }
    if (pending.size === 0 && leaving.size === 0) return evicted
    if (d.clock.monoMs() >= deadline) {
      const why = summary(blocked, pending, leaving)
      if (req.onTimeout === 'give-up') {
        const message = `gave up after ${Math.round(req.timeoutMs / 1000)} s: ${why}`
        await d.kube.patchNode(req.node, statusPatch('gave-up', message))
        await d.kube.nodeEvent(req.node, 'Warning', 'HomecloudDrainGaveUp', message)
        throw new HomecloudError(
          'DRAIN_TIMEOUT',
          `${req.node} is cordoned but not drained: ${message}`,
          'let the blocking budget allow a disruption (more replicas, or relax it), then run the drain again; `homecloud undrain` uncordons',
        )
      }
      const now = d.clock.monoMs()
      if (!timeoutAnnounced || now - lastSummaryMono > 30_000) {
        d.progress(
          `${timeoutAnnounced ? 'still waiting' : 'timeout passed; waiting on (--on-timeout wait)'}: ${why}`,
        )
        timeoutAnnounced = true
        lastSummaryMono = now
      }
    }
    await new Promise<void>((r) => d.clock.setTimeout(r, pollMs))
  }
}

export async function undrainNode(
  node: string,
  d: Pick<DrainDeps, 'kube' | 'lock' | 'progress'>,
): Promise<{ uncordoned: boolean }> {
  if (!(await d.kube.getNode(node))) throw unknownNode(node)
  const held = await d.lock('undrain', node)
  try {
    let s: ReturnType<typeof drainStateOf> | undefined
    let uncordons = false
    const n = await patchNodeFresh(d.kube, node, (fresh) => {
      held.assertHeld()
      s = drainStateOf(fresh)
      const u = undrainPatch(fresh)
      uncordons = u.uncordons
      return u.patch
    })
    if (!n || !s) throw unknownNode(node)
    if (uncordons) d.progress(`uncordoned ${node}: pods may be scheduled on it again`)
    else if (s.unschedulable)
      d.progress(
        `${node} stays cordoned: homecloud did not cordon it (someone else did; \`kubectl uncordon ${node}\`)`,
      )
    else d.progress(`${node} was not cordoned; nothing to do`)
    return { uncordoned: uncordons }
  } finally {
    await held.release()
  }
}

function refuseIfDrained(name: string, n: Parameters<typeof drainStateOf>[0]): void {
  const s = drainStateOf(n)
  if (s.status === 'drained' && s.unschedulable)
    throw new HomecloudError(
      'DRAIN_ALREADY_DONE',
      `${name} is already drained by homecloud (nothing changed)`,
      `run \`homecloud undrain ${name}\` first to drain it again`,
    )
}

function unknownNode(name: string): HomecloudError {
  return new HomecloudError(
    'KUBE_NODE_UNKNOWN',
    `Kubernetes has no node ${name}`,
    'see `kubectl get nodes` for names',
  )
}

function describe(v: EvictionVerdict): string {
  switch (v.kind) {
    case 'pdb':
      return `blocked by PodDisruptionBudget ${v.pdb ?? '(unnamed)'}`
    case 'denied':
      return `eviction denied (HTTP ${v.status}, not a budget): ${v.detail}`
    case 'retry':
      return `API server answered ${v.status}: ${v.detail}`
    default:
      return v.kind
  }
}

function summary(
  blocked: ReadonlyMap<string, EvictionVerdict>,
  pending: ReadonlyMap<string, unknown>,
  leaving: ReadonlyMap<string, PodRef>,
): string {
  const parts: string[] = []
  const byBudget = new Map<string, string[]>()
  for (const k of pending.keys()) {
    const v = blocked.get(k)
    const what = v ? describe(v) : 'not tried yet'
    byBudget.set(what, [...(byBudget.get(what) ?? []), k])
  }
  for (const [what, pods] of byBudget) parts.push(`${what} (${pods.join(', ')})`)
  if (leaving.size > 0) parts.push(`waiting for ${[...leaving.keys()].join(', ')} to terminate`)
  return parts.join('; ')
}

function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`
}
