import { kubeApiFromKubeconfig } from '../../control/kubeapi/client.js'
import type { RolloutKube } from '../../control/rollout/kube.js'

// The rollout's Kubernetes (control/rollout/kube.ts declares what it reads) made from
// the node's admin kubeconfig: the API adapter and the Node leases' renew times.

export async function rolloutKubeFromKubeconfig(file: string): Promise<RolloutKube> {
  const api = await kubeApiFromKubeconfig(file)
  const k8s = await import('@kubernetes/client-node')
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(file)
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api)
  return {
    api,
    async leaseRenewMs(node) {
      try {
        const l = await coordination.readNamespacedLease({ name: node, namespace: 'kube-node-lease' })
        const t = l.spec?.renewTime
        return t ? new Date(t as unknown as string).getTime() : null
      } catch {
        return null
      }
    },
  }
}
