// What the coordinator wants a Node's control-plane label and taint to be (pure). A node
// may not set node-role labels on itself (NodeRestriction), so the coordinator does it with
// admin rights, following etcd placement.

export const controlPlaneRoleLabel = 'node-role.kubernetes.io/control-plane'

export interface Taint {
  key: string
  value?: string
  effect: string
}

export interface NodeRoleState {
  name: string
  labels: Record<string, string>
  taints: Taint[]
}

export interface NodeRolePatch {
  name: string
  /** A merge patch: `null` removes a label. */
  patch: { metadata?: { labels: Record<string, string | null> }; spec?: { taints: Taint[] } }
}

export function nodeRolePatches(
  nodes: readonly NodeRoleState[],
  controlPlaneNames: ReadonlySet<string>,
  taintControlPlane: boolean,
): NodeRolePatch[] {
  const out: NodeRolePatch[] = []
  for (const n of nodes) {
    const isCp = controlPlaneNames.has(n.name)
    const patch: NodeRolePatch['patch'] = {}
    const hasLabel = controlPlaneRoleLabel in n.labels
    if (isCp && !hasLabel) patch.metadata = { labels: { [controlPlaneRoleLabel]: '' } }
    if (!isCp && hasLabel) patch.metadata = { labels: { [controlPlaneRoleLabel]: null } }
    const wantTaint = isCp && taintControlPlane
    const others = n.taints.filter((t) => t.key !== controlPlaneRoleLabel)
    const hasTaint = others.length !== n.taints.length
    if (wantTaint && !hasTaint)
      patch.spec = { taints: [...others, { key: controlPlaneRoleLabel, effect: 'NoSchedule' }] }
    if (!wantTaint && hasTaint) patch.spec = { taints: others }
    if (patch.metadata || patch.spec) out.push({ name: n.name, patch })
  }
  return out
}
