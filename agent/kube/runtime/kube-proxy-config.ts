import type { RuntimePaths } from './paths.js'

// kube-proxy's configuration (pure). It runs beside the kubelet as a child of the agent
// (like the kubelet, not as a DaemonSet: Services must work before any pod does, CoreDNS
// included), in iptables mode, with the node's own kubelet identity — the add-on
// manifests/addons/node-proxier.yaml lets the group system:nodes read what it needs.
// It leaves the kernel's conntrack sizes alone: a netns lab node cannot set them, and the
// kernel's defaults suit a home cluster.

export interface KubeProxySpec {
  nodeName: string
  address: string
  kubeconfig: string
  clusterCidr: string
  paths: RuntimePaths
}

export const kubeProxyHealthzPort = 10256
export const kubeProxyMetricsPort = 10249

export function kubeProxyConfig(s: KubeProxySpec): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: s.kubeconfig },
    hostnameOverride: s.nodeName,
    bindAddress: s.address,
    healthzBindAddress: `${s.address}:${kubeProxyHealthzPort}`,
    metricsBindAddress: `${s.address}:${kubeProxyMetricsPort}`,
    mode: 'iptables',
    clusterCIDR: s.clusterCidr,
    detectLocalMode: 'ClusterCIDR',
    // NodePorts on the node's own address only, not on the pod bridge or the tunnel.
    nodePortAddresses: ['primary'],
    // Without CAP_SYS_RESOURCE (a sandbox) -999 is refused; the agent's own score is kept.
    oomScoreAdj: 0,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { masqueradeAll: false, syncPeriod: '30s', minSyncPeriod: '1s' },
  }
}

export function kubeProxyConfigText(s: KubeProxySpec): string {
  return `${JSON.stringify(kubeProxyConfig(s), null, 2)}\n`
}

export function kubeProxyConfigPath(paths: RuntimePaths): string {
  return `${paths.dir}/kube-proxy.json`
}

export function kubeProxyArgs(paths: RuntimePaths): string[] {
  return [`--config=${kubeProxyConfigPath(paths)}`, '--v=1']
}
