import type { V1Node, V1Pod } from '@kubernetes/client-node'
import { drainStateOf } from '../drain/annotations.js'
import type { KubeApi } from '../kubeapi/types.js'
import type { KubeNodeState } from './types.js'

// What the rollout reads from Kubernetes about one node: its Node (Ready, kubelet
// version, cordon and drain marks), its DaemonSet pods that are Ready, and when its
// kubelet (or kwok) last renewed the Node's lease — a heartbeat after the agent started
// is one from this boot, not a Ready left over from before the reboot.

export interface RolloutKube {
  api: KubeApi
  /** The Node lease's renew time (ms), null when there is none. */
  leaseRenewMs(node: string): Promise<number | null>
}

export function podReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
}

/** Pure: the Node and its pods → what the gate and the drain step read. */
export function kubeNodeState(n: V1Node, pods: readonly V1Pod[], heartbeatMs: number | null): KubeNodeState {
  const d = drainStateOf(n)
  const daemonPodsReady = pods.filter(
    (p) => p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.controller) && podReady(p),
  ).length
  return {
    ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    kubeletVersion: n.status?.nodeInfo?.kubeletVersion ?? '',
    unschedulable: d.unschedulable,
    cordonedByHomecloud: d.cordonedByHomecloud,
    drainStatus: d.status,
    drainMessage: d.message,
    drainReason: d.reason,
    daemonPodsReady,
    heartbeatMs,
  }
}
