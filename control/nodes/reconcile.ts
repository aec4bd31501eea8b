import type { Clock } from '../../agent/core/clock.js'
import type { EventLog } from '../../agent/core/event-log.js'
import type { Logger } from '../../agent/core/log.js'
import { type KubeApi, patchNodeFresh, type V1Node } from '../kubeapi/types.js'
import {
  decideNodeActions,
  type MeshState,
  type NodeAction,
  type NodeObservation,
  OUT_OF_SERVICE_TAINT,
  OUT_OF_SERVICE_VALUE,
} from './decide.js'
import type { NodeLifecyclePolicy } from './policy.js'

// One tick of dead-node handling for the coordinator's loop: observe the Nodes, ask
// `decideNodeActions`, apply what it returns. Idempotent (a taint already there is not
// added twice, a Node already deleted is fine) and fenced: leadership is checked before
// every effect, and every taint change is conditional on the Node's resourceVersion.

export const TAINTED_BY = 'homecloud.dev/out-of-service-by'
export const NODE_ID_LABEL = 'homecloud.dev/node-id'

export interface MeshNodeState {
  state: MeshState
  deadSinceMs: number | null
}

export interface ReconcileNodesCtx {
  kube: Pick<KubeApi, 'listNodes' | 'getNode' | 'patchNode' | 'deleteNode' | 'nodeEvent'>
  clock: Clock
  log: Logger
  policy: NodeLifecyclePolicy
  /** True only while this node is the coordinator (and its lease certainly alive). */
  isLeader(): boolean
  /** etcd quorum right now (the coordinator's linearizable read succeeded). */
  quorum: boolean
  /** The mesh's view, by homecloud node id and by name (a Node carries both). */
  mesh(idOrName: string): MeshNodeState | undefined
  events?: EventLog
}

export interface ReconcileNodesResult {
  actions: NodeAction[]
  applied: NodeAction[]
  /** Actions the API refused or failed (conflicts, hiccups): the next pass observes again. */
  failed: { action: NodeAction; error: string }[]
}

export async function reconcileNodes(ctx: ReconcileNodesCtx): Promise<ReconcileNodesResult> {
  if (!ctx.isLeader() || !ctx.quorum) return { actions: [], applied: [], failed: [] }
  const nodes = await ctx.kube.listNodes()
  const actions = decideNodeActions({
    nowMs: ctx.clock.nowMs(),
    quorum: ctx.quorum,
    policy: ctx.policy,
    nodes: nodes.map((n) => observeNode(n, ctx.mesh)),
  })
  const applied: NodeAction[] = []
  const failed: ReconcileNodesResult['failed'] = []
  for (const a of actions) {
    if (!ctx.isLeader()) break
    try {
      if (await apply(a, ctx)) {
        applied.push(a)
        ctx.log.info({ node: a.node, action: a.kind, reason: a.reason }, `node ${a.kind}`)
        ctx.events?.add({
          atMs: ctx.clock.nowMs(),
          kind: `node-${a.kind}`,
          id: a.node,
          message: `${a.node}: ${a.kind} (${a.reason})`,
        })
      }
    } catch (err) {
      // Conflicts and API hiccups: the caller's next pass observes again (its controller
      // logs a repeated failure once).
      failed.push({ action: a, error: (err as Error).message })
    }
  }
  return { actions, applied, failed }
}

export function observeNode(n: V1Node, mesh: ReconcileNodesCtx['mesh']): NodeObservation {
  const name = n.metadata?.name ?? ''
  const id = n.metadata?.labels?.[NODE_ID_LABEL]
  const m = (id ? mesh(id) : undefined) ?? mesh(name)
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready')
  const taint = (n.spec?.taints ?? []).find((t) => t.key === OUT_OF_SERVICE_TAINT)
  return {
    name,
    mesh: m?.state ?? 'unknown',
    meshDeadSinceMs: m?.deadSinceMs ?? null,
    ready: ready?.status === 'True',
    readySinceMs: ready?.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : null,
    outOfService: taint !== undefined,
    taintedByHomecloud: taint !== undefined && n.metadata?.annotations?.[TAINTED_BY] === 'homecloud',
  }
}

async function apply(a: NodeAction, ctx: ReconcileNodesCtx): Promise<boolean> {
  if (a.kind === 'delete') {
    await ctx.kube.nodeEvent(a.node, 'Warning', 'HomecloudNodeDeleted', `deleted by homecloud: ${a.reason}`)
    return ctx.kube.deleteNode(a.node)
  }
  let changed = false
  await patchNodeFresh(ctx.kube, a.node, (n) => {
    const taints = n.spec?.taints ?? []
    const has = taints.some((t) => t.key === OUT_OF_SERVICE_TAINT)
    changed = a.kind === 'taint' ? !has : has
    if (!changed || !ctx.isLeader()) {
      changed = false
      return undefined
    }
    const next =
      a.kind === 'taint'
        ? [...taints, { key: OUT_OF_SERVICE_TAINT, value: OUT_OF_SERVICE_VALUE, effect: 'NoExecute' }]
        : taints.filter((t) => t.key !== OUT_OF_SERVICE_TAINT)
    return {
      metadata: {
        resourceVersion: n.metadata?.resourceVersion,
        annotations: { [TAINTED_BY]: a.kind === 'taint' ? 'homecloud' : null },
      },
      spec: { taints: next },
    }
  })
  if (!changed) return false
  await ctx.kube.nodeEvent(
    a.node,
    a.kind === 'taint' ? 'Warning' : 'Normal',
    a.kind === 'taint' ? 'HomecloudOutOfService' : 'HomecloudBackInService',
    `${a.kind === 'taint' ? 'out-of-service taint applied' : 'out-of-service taint removed'}: ${a.reason}`,
  )
  return true
}
