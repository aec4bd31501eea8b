import { z } from 'zod'
import { drainStateOf } from '../../control/drain/annotations.js'
import type { V1Node } from '../../control/kubeapi/types.js'

// Each Kubernetes Node as the status page shows it: its Ready condition, kubelet
// version, pods running on it, and whether it is cordoned or drained and by whom. A pure
// function of what one list of Nodes and one table of Running pods said.

export const reasonCharsMax = 240

/** The node's Kubernetes Node as a voter with admin rights reads it (the status page's shape). */
export const KubeNodeView = z.object({
  /** The Node's name (= the node's name). */
  name: z.string().max(253),
  /** The Ready condition's status; Unknown when the kubelet stopped reporting. */
  ready: z.enum(['True', 'False', 'Unknown']),
  /** The Ready condition's reason and message, when not Ready. */
  reason: z.string().max(512).optional(),
  kubeletVersion: z.string().max(64),
  podsRunning: z.number().int().nonnegative(),
  unschedulable: z.boolean(),
  /** Who cordoned it: homecloud (a drain, `homecloud drain`) or someone else (kubectl cordon). */
  cordonedBy: z.enum(['homecloud', 'someone else']).nullable(),
  drain: z
    .object({ status: z.enum(['draining', 'drained', 'gave-up']), message: z.string().max(512).nullable() })
    .nullable(),
  /** Issue 14 (upgrades) fills this: the rollout step this node is at. Always null until then. */
  upgradeStep: z.string().max(128).nullable(),
})
export type KubeNodeView = z.infer<typeof KubeNodeView>

/** The rows of `GET /api/v1/pods` asked as a Table (meta.k8s.io/v1): only names and columns. */
export interface PodTable {
  columnDefinitions?: { name?: string }[]
  rows?: { cells?: unknown[] }[]
}

/** Running pods per Node name, from the Table's "Node" column. */
export function podsPerNode(table: PodTable): Map<string, number> {
  const col = (table.columnDefinitions ?? []).findIndex((c) => c.name === 'Node')
  const out = new Map<string, number>()
  if (col < 0) return out
  for (const row of table.rows ?? []) {
    const node = row.cells?.[col]
    if (typeof node === 'string' && node !== '' && node !== '<none>') out.set(node, (out.get(node) ?? 0) + 1)
  }
  return out
}

function readyOf(n: V1Node): Pick<KubeNodeView, 'ready' | 'reason'> {
  const c = n.status?.conditions?.find((x) => x.type === 'Ready')
  if (!c) return { ready: 'Unknown', reason: 'no Ready condition yet (the kubelet has not reported)' }
  const ready = c.status === 'True' ? 'True' : c.status === 'False' ? 'False' : 'Unknown'
  if (ready === 'True') return { ready }
  const text = [c.reason, c.message].filter(Boolean).join(': ')
  return { ready, ...(text ? { reason: text.slice(0, reasonCharsMax) } : {}) }
}

export function kubeNodeView(n: V1Node, pods: ReadonlyMap<string, number>): KubeNodeView {
  const name = n.metadata?.name ?? ''
  const d = drainStateOf(n)
  return {
    name,
    ...readyOf(n),
    kubeletVersion: (n.status?.nodeInfo?.kubeletVersion ?? '').slice(0, 64),
    podsRunning: pods.get(name) ?? 0,
    unschedulable: d.unschedulable,
    cordonedBy: d.unschedulable ? (d.cordonedByHomecloud ? 'homecloud' : 'someone else') : null,
    drain: d.status ? { status: d.status, message: d.message?.slice(0, reasonCharsMax) ?? null } : null,
    // Issue 14: the rollout controller's step for this node goes here.
    upgradeStep: null,
  }
}

export function kubeNodesView(nodes: readonly V1Node[], pods: PodTable): KubeNodeView[] {
  const perNode = podsPerNode(pods)
  return nodes
    .filter((n) => n.metadata?.name)
    .map((n) => kubeNodeView(n, perNode))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
}
