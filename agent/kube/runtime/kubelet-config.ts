import type { CertKeyPaths } from '../../pki/store.js'
import type { HostRuntimeFacts } from './host.js'
import type { RuntimePaths } from './paths.js'

// The kubelet's configuration file and command line (pure). Its identity is the kubelet
// certificate from our CA (no bootstrap tokens, no certificate rotation through the API:
// the agent renews it over the mesh); it serves 10250 with a kubelet-serving certificate
// naming its own name and address, and trusts only callers with a CA-signed certificate
// (the API server's kubelet-client) or a token the API server vouches for.

export interface KubeletSpec {
  nodeName: string
  address: string
  caCert: string
  serving: CertKeyPaths
  kubeconfig: string
  paths: RuntimePaths
  clusterDns: string
  /** Parent cgroup of every pod; `/` on a real machine, a lab node's own elsewhere. */
  cgroupRoot: string
  host: HostRuntimeFacts
}

export const kubeletPortDefault = 10250

export function kubeletConfig(s: KubeletSpec): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: s.address,
    port: kubeletPortDefault,
    readOnlyPort: 0,
    healthzBindAddress: s.address,
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: s.caCert },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: s.serving.cert,
    tlsPrivateKeyFile: s.serving.key,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    containerRuntimeEndpoint: `unix://${s.paths.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: s.cgroupRoot,
    // Kubernetes 1.35+ refuses cgroup v1 unless told; old laptops and some boards' kernels
    // still boot with it. The agent logs a warning when it is so.
    failCgroupV1: !s.host.cgroupV2 ? false : undefined,
    // A laptop with swap still serves: pods get no swap (the default NoSwap behaviour).
    failSwapOn: false,
    clusterDomain: 'cluster.local',
    clusterDNS: [s.clusterDns],
    resolvConf: s.host.resolvConf ?? '',
    podLogsDir: s.paths.podLogsDir,
    registerNode: true,
    // The agent adds labels and taints itself (NodeRestriction allows a node only a few).
    serializeImagePulls: false,
  }
}

/** JSON is YAML: the kubelet reads it as its config file. Undefined fields are dropped. */
export function kubeletConfigText(s: KubeletSpec): string {
  return `${JSON.stringify(kubeletConfig(s), null, 2)}\n`
}

export function kubeletArgs(s: KubeletSpec): string[] {
  return [
    `--config=${s.paths.kubeletConfig}`,
    `--kubeconfig=${s.kubeconfig}`,
    `--hostname-override=${s.nodeName}`,
    `--node-ip=${s.address}`,
    `--root-dir=${s.paths.kubeletRoot}`,
    // Unused (certificates come from the agent), but keeps the kubelet out of /var/lib/kubelet/pki.
    `--cert-dir=${s.paths.kubeletRoot}/pki`,
    '--v=1',
  ]
}

export function containerdArgs(paths: RuntimePaths): string[] {
  return [`--config=${paths.containerdConfig}`]
}
