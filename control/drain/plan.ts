import type { V1Pod, V1PodDisruptionBudget } from '../kubeapi/types.js'
import { selectorMatches } from './selector.js'

// What draining a node would do (pure): which pods get evicted, which are left alone
// and why, what needs care, which PodDisruptionBudgets would block. The dry run prints
// this; the executor follows it.

export interface PodRef {
  namespace: string
  name: string
  uid: string
}

export interface PlannedEviction extends PodRef {
  /** `Kind/name` of its controller, or null for an unmanaged pod. */
  owner: string | null
  /** Holds emptyDir volumes: their data is lost when evicted. */
  emptyDir: boolean
  /** PDBs covering it (`namespace/name`). */
  pdbs: string[]
}

export type SkipReason = 'daemonset' | 'mirror' | 'terminating'

export interface PdbBlock {
  /** `namespace/name` */
  pdb: string
  reason: 'zero-budget' | 'single-replica' | 'multiple-pdbs'
  pods: string[]
  detail: string
}

export interface DrainPlan {
  node: string
  /** Pods the drain evicts (unmanaged ones only when forced). */
  evict: PlannedEviction[]
  /** Left alone; terminating pods are waited for, not evicted. */
  skipped: (PodRef & { reason: SkipReason })[]
  /** No controller: nothing would recreate them. Refused without --force. */
  unmanaged: PlannedEviction[]
  /** Would block the drain unless something changes (the executor still tries, under its timeout). */
  blockers: PdbBlock[]
  warnings: string[]
  /** Why the drain must not start (empty = it may). */
  refusals: string[]
}

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'

export function planDrain(
  node: string,
  pods: readonly V1Pod[],
  pdbs: readonly V1PodDisruptionBudget[],
  opts: { force: boolean },
): DrainPlan {
  const plan: DrainPlan = {
    node,
    evict: [],
    skipped: [],
    unmanaged: [],
    blockers: [],
    warnings: [],
    refusals: [],
  }
  const blockers = new Map<string, PdbBlock>()
  const sorted = [...pods]
    .filter((p) => p.spec?.nodeName === node)
    .sort((a, b) => key(a).localeCompare(key(b)))
  for (const pod of sorted) {
    const ref = refOf(pod)
    const controller = pod.metadata?.ownerReferences?.find((o) => o.controller)
    if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) {
      plan.skipped.push({ ...ref, reason: 'mirror' })
      continue
    }
    if (controller?.kind === 'DaemonSet') {
      plan.skipped.push({ ...ref, reason: 'daemonset' })
      continue
    }
    if (pod.metadata?.deletionTimestamp) {
      plan.skipped.push({ ...ref, reason: 'terminating' })
      continue
    }
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
    const covering = finished ? [] : pdbs.filter((b) => covers(b, pod))
    const entry: PlannedEviction = {
      ...ref,
      owner: controller ? `${controller.kind}/${controller.name}` : null,
      emptyDir: (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined),
      pdbs: covering.map(pdbName),
    }
    if (entry.emptyDir) plan.warnings.push(`${ref.namespace}/${ref.name} has emptyDir data, lost on eviction`)
    if (!controller) {
      plan.unmanaged.push(entry)
      if (!finished) {
        if (opts.force)
          plan.warnings.push(`${ref.namespace}/${ref.name} has no controller: evicted for good (--force)`)
        else plan.refusals.push(`${ref.namespace}/${ref.name} has no controller: nothing would recreate it`)
      }
      if (opts.force || finished) plan.evict.push(entry)
    } else plan.evict.push(entry)

    if (covering.length > 1) {
      // The Eviction API refuses (500) a pod covered by more than one PDB.
      const name = covering.map(pdbName).join(' + ')
      block(
        blockers,
        name,
        'multiple-pdbs',
        ref,
        `pod is covered by ${covering.length} budgets; the Eviction API refuses it`,
      )
    } else if (covering.length === 1) {
      const b = covering[0]!
      const allowed = b.status?.disruptionsAllowed ?? 0
      if (allowed <= 0) {
        const single = (b.status?.expectedPods ?? 0) <= 1
        block(
          blockers,
          pdbName(b),
          single ? 'single-replica' : 'zero-budget',
          ref,
          single
            ? 'its only replica: the budget allows no disruption'
            : `allows 0 disruptions (${b.status?.currentHealthy ?? '?'} healthy, needs ${b.status?.desiredHealthy ?? '?'})`,
        )
      }
    }
  }
  plan.blockers = [...blockers.values()]
  return plan
}

/** The one PDB covering a pod, by the API server's rule (namespace + selector). */
export function pdbsCovering(pod: V1Pod, pdbs: readonly V1PodDisruptionBudget[]): string[] {
  return pdbs.filter((b) => covers(b, pod)).map(pdbName)
}

function covers(b: V1PodDisruptionBudget, pod: V1Pod): boolean {
  return (
    b.metadata?.namespace === pod.metadata?.namespace &&
    selectorMatches(b.spec?.selector, pod.metadata?.labels ?? {})
  )
}

function block(
  m: Map<string, PdbBlock>,
  pdb: string,
  reason: PdbBlock['reason'],
  pod: PodRef,
  detail: string,
) {
  const b = m.get(pdb) ?? { pdb, reason, pods: [], detail }
  b.pods.push(`${pod.namespace}/${pod.name}`)
  m.set(pdb, b)
}

export function pdbName(b: V1PodDisruptionBudget): string {
  return `${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`
}

function refOf(p: V1Pod): PodRef {
  return {
    namespace: p.metadata?.namespace ?? 'default',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
  }
}

function key(p: V1Pod): string {
  return `${p.metadata?.namespace}/${p.metadata?.name}`
}

/** The plan as the dry run prints it: one line per pod, then the findings. */
export function formatPlan(p: DrainPlan): string[] {
  const lines = [`drain plan for ${p.node}:`]
  if (p.evict.length === 0) lines.push('  nothing to evict')
  for (const e of p.evict)
    lines.push(
      `  evict  ${e.namespace}/${e.name}${e.owner ? ` (${e.owner})` : ' (no controller)'}${e.pdbs.length ? ` budget ${e.pdbs.join(', ')}` : ''}${e.emptyDir ? ' [emptyDir]' : ''}`,
    )
  for (const s of p.skipped) lines.push(`  leave  ${s.namespace}/${s.name} (${s.reason})`)
  for (const u of p.unmanaged.filter((u) => !p.evict.includes(u)))
    lines.push(`  refuse ${u.namespace}/${u.name} (no controller; --force evicts it)`)
  for (const b of p.blockers)
    lines.push(`  blocked by PodDisruptionBudget ${b.pdb}: ${b.detail} (${b.pods.join(', ')})`)
  for (const w of p.warnings) lines.push(`  warning: ${w}`)
  for (const r of p.refusals) lines.push(`  refused: ${r}`)
  return lines
}
