import type { NodeLifecyclePolicy } from './policy.js'

// What to do about nodes that vanished or came back (pure). Both witnesses must agree
// before pods are moved: the mesh says the machine is dead, and Kubernetes says its Node
// is not Ready. Only a coordinator that has etcd quorum decides at all, so the minority
// side of a partition never taints the majority's nodes.

export const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service'
export const OUT_OF_SERVICE_VALUE = 'nodeshutdown'

export type MeshState = 'alive' | 'suspect' | 'dead' | 'unknown'

export interface NodeObservation {
  name: string
  /** What the mesh says about the machine behind the Node ('unknown': no record). */
  mesh: MeshState
  /** When the mesh declared it dead (wall ms), if it knows. */
  meshDeadSinceMs: number | null
  ready: boolean
  /** When its Ready condition last changed (wall ms): the fallback time of death. */
  readySinceMs: number | null
  /** The out-of-service taint is on it. */
  outOfService: boolean
  /** ...and homecloud put it there (a taint someone else set is theirs to remove). */
  taintedByHomecloud: boolean
}

export interface NodeDecisionInput {
  nowMs: number
  quorum: boolean
  policy: NodeLifecyclePolicy
  nodes: readonly NodeObservation[]
}

export type NodeAction =
  | { kind: 'taint'; node: string; reason: string }
  | { kind: 'untaint'; node: string; reason: string }
  | { kind: 'delete'; node: string; reason: string }

export function decideNodeActions(input: NodeDecisionInput): NodeAction[] {
  if (!input.quorum) return []
  const out: NodeAction[] = []
  for (const n of input.nodes) {
    if (n.mesh === 'dead' && !n.ready) {
      // A coordinator that took over after the death does not know the mesh's time of
      // death: Kubernetes' NotReady transition is then the earliest certain moment.
      const since = n.meshDeadSinceMs ?? n.readySinceMs
      if (since === null) continue
      const goneMs = input.nowMs - since
      if (goneMs >= input.policy.nodeDeleteAfterMs) {
        out.push({
          kind: 'delete',
          node: n.name,
          reason: `gone ${fmt(goneMs)} (delete after ${fmt(input.policy.nodeDeleteAfterMs)})`,
        })
      } else if (goneMs >= input.policy.nodeGraceMs && !n.outOfService) {
        out.push({ kind: 'taint', node: n.name, reason: `dead by the mesh and NotReady for ${fmt(goneMs)}` })
      }
    } else if (n.mesh === 'alive' && n.ready && n.outOfService && n.taintedByHomecloud) {
      out.push({ kind: 'untaint', node: n.name, reason: 'back: alive in the mesh and Ready' })
    }
  }
  return out
}

function fmt(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`
}
