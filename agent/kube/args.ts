import { hostPort } from '../etcd/spec.js'
import type { KubePaths } from './paths.js'

// The exact command lines of the upstream components (pure). Every listener binds to the
// node's own address; everything speaks TLS with certificates from the cluster CA.

export const apiserverPortDefault = 6443
export const controllerManagerPortDefault = 10257
export const schedulerPortDefault = 10259
export const kwokPortDefault = 10247
export const serviceCidrDefault = '10.96.0.0/16'
/** The pod network (agent/kube/podnet routes one /24 of it per node). */
export const podCidrDefault = '10.244.0.0/16'
/** CoreDNS's Service address (manifests/addons/coredns.yaml), for kubelet's --cluster-dns. */
export const clusterDnsDefault = '10.96.0.10'
export const clusterNameDefault = 'homecloud'

export interface ApiserverSpec {
  /** The node's address: the listener binds to it alone. */
  address: string
  /**
   * The address other nodes reach this API server at. kube-apiserver refuses loopback
   * here (and the `kubernetes` Endpoints may never hold one), so a loopback lab passes
   * a non-loopback placeholder and turns the endpoint reconciler off.
   */
  advertiseAddress: string
  port?: number
  etcdServers: readonly string[]
  serviceCidr?: string
  /** `lease` on real networks; `none` where the advertise address is a placeholder. */
  endpointReconciler?: 'lease' | 'none'
  paths: KubePaths
}

export function apiserverArgs(s: ApiserverSpec): string[] {
  const p = s.paths
  return [
    `--bind-address=${s.address}`,
    `--advertise-address=${s.advertiseAddress}`,
    `--secure-port=${s.port ?? apiserverPortDefault}`,
    `--etcd-servers=${s.etcdServers.join(',')}`,
    `--etcd-cafile=${p.caCert}`,
    `--etcd-certfile=${p.etcdClient.cert}`,
    `--etcd-keyfile=${p.etcdClient.key}`,
    `--client-ca-file=${p.caCert}`,
    `--tls-cert-file=${p.apiserver.cert}`,
    `--tls-private-key-file=${p.apiserver.key}`,
    `--kubelet-client-certificate=${p.apiserverKubeletClient.cert}`,
    `--kubelet-client-key=${p.apiserverKubeletClient.key}`,
    `--kubelet-certificate-authority=${p.caCert}`,
    // Logs and exec reach a kubelet at its address (its serving certificate names it):
    // a board's name need not resolve anywhere, least of all through an upstream DNS.
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${p.serviceAccountPub}`,
    `--service-account-signing-key-file=${p.serviceAccountKey}`,
    `--service-cluster-ip-range=${s.serviceCidr ?? serviceCidrDefault}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    `--endpoint-reconciler-type=${s.endpointReconciler ?? 'lease'}`,
    '--profiling=false',
    // Small boards: fewer in-flight requests and a smaller watch cache than a cloud default.
    '--max-requests-inflight=200',
    '--max-mutating-requests-inflight=100',
  ]
}

export interface ControllerSpec {
  address: string
  port?: number
  paths: KubePaths
  clusterName?: string
  podCidr?: string
  /** How long a Node may stay silent before it is NotReady (upstream default 50 s). */
  nodeMonitorGracePeriodSeconds?: number
}

export function controllerManagerArgs(s: ControllerSpec): string[] {
  const p = s.paths
  return [
    `--kubeconfig=${p.controllerManagerKubeconfig}`,
    `--authentication-kubeconfig=${p.controllerManagerKubeconfig}`,
    `--authorization-kubeconfig=${p.controllerManagerKubeconfig}`,
    `--bind-address=${s.address}`,
    `--secure-port=${s.port ?? controllerManagerPortDefault}`,
    `--cluster-name=${s.clusterName ?? clusterNameDefault}`,
    `--root-ca-file=${p.caCert}`,
    `--service-account-private-key-file=${p.serviceAccountKey}`,
    '--use-service-account-credentials=true',
    // Each Node gets a /24 of the pod network in spec.podCIDR, which agent/kube/podnet routes.
    '--allocate-node-cidrs=true',
    `--cluster-cidr=${s.podCidr ?? podCidrDefault}`,
    '--leader-elect=true',
    '--profiling=false',
    ...(s.nodeMonitorGracePeriodSeconds !== undefined
      ? [`--node-monitor-grace-period=${s.nodeMonitorGracePeriodSeconds}s`]
      : []),
  ]
}

export function schedulerArgs(s: ControllerSpec): string[] {
  const p = s.paths
  return [
    `--kubeconfig=${p.schedulerKubeconfig}`,
    `--authentication-kubeconfig=${p.schedulerKubeconfig}`,
    `--authorization-kubeconfig=${p.schedulerKubeconfig}`,
    `--bind-address=${s.address}`,
    `--secure-port=${s.port ?? schedulerPortDefault}`,
    '--leader-elect=true',
    '--profiling=false',
  ]
}

export interface KwokSpec {
  nodeName: string
  address: string
  port?: number
  /** Pod addresses kwok hands out for this node: one /24 per node keeps them unique. */
  podCidr: string
  /** manifests/kwok/stages.yaml: how a Node becomes Ready and pods Running. */
  stagesFile: string
  /** The Node's Lease is its heartbeat: when kwok dies, the Node goes NotReady. */
  leaseSeconds?: number
  paths: KubePaths
}

/** kwok standing in for this node's kubelet (labs): it manages exactly its own Node. */
export function kwokArgs(s: KwokSpec): string[] {
  return [
    `--kubeconfig=${s.paths.kwokKubeconfig}`,
    `--manage-single-node=${s.nodeName}`,
    `--node-ip=${s.address}`,
    `--server-address=${hostPort(s.address, s.port ?? kwokPortDefault)}`,
    `--cidr=${s.podCidr}`,
    `--config=${s.stagesFile}`,
    `--node-lease-duration-seconds=${s.leaseSeconds ?? 40}`,
  ]
}
