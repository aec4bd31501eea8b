// What each kind of certificate looks like: a pure table. The signer turns a profile
// plus the requester's identity into a subject, SANs and extended key usages; nothing
// here touches keys or files.

export const PROFILE_NAMES = [
  'agent',
  'etcd-peer',
  'etcd-server',
  'etcd-client',
  'kube-apiserver',
  'kubelet-client',
  'kubelet-serving',
  'kubelet',
  'controller-manager',
  'scheduler',
  'admin',
  'kwok',
] as const
export type ProfileName = (typeof PROFILE_NAMES)[number]

/** Who a certificate is for; each profile uses the parts it needs. */
export interface CertSubject {
  nodeId?: string
  nodeName?: string
  /** The node's own addresses; the signer may restrict them with `allowedIps`. */
  ips?: readonly string[]
  /** Add DNS `localhost` and IP 127.0.0.1, only when local clients dial that name. */
  localhost?: boolean
  /** kube-apiserver only: the first service IP (the `kubernetes` Service). */
  serviceIp?: string
  /** kube-apiserver only. */
  clusterDomain?: string
}

export type SubjectField = 'nodeId' | 'nodeName' | 'ips'

export interface SanRule {
  nodeName: boolean
  nodeId: boolean
  nodeIps: boolean
  localhost: 'never' | 'optional' | 'always'
  /** kubernetes, kubernetes.default, … and the service IP. */
  kubernetesService: boolean
  /** etcd refuses peer certificates without an IP SAN. */
  ipRequired: boolean
}

export interface ProfileSpec {
  purpose: string
  serverAuth: boolean
  clientAuth: boolean
  needs: readonly SubjectField[]
  /** undefined when the identity lacks what the name is made from (`needs` says which). */
  commonName(id: CertSubject): string | undefined
  organizations: readonly string[]
  san: SanRule
}

export const nodesOrganization = 'homecloud:nodes'
export const defaultServiceIp = '10.96.0.1'
export const defaultClusterDomain = 'cluster.local'
export const loopbackIp = '127.0.0.1'

const noSans: SanRule = {
  nodeName: false,
  nodeId: false,
  nodeIps: false,
  localhost: 'never',
  kubernetesService: false,
  ipRequired: false,
}

const nodeSans: SanRule = { ...noSans, nodeName: true, nodeId: true, nodeIps: true, localhost: 'optional' }

const nodeCn = (id: CertSubject) => id.nodeName && `system:node:${id.nodeName}`

export const PROFILES: Readonly<Record<ProfileName, ProfileSpec>> = {
  agent: {
    purpose: 'node identity on the agent mutual-TLS API (7443)',
    serverAuth: true,
    clientAuth: true,
    needs: ['nodeId', 'nodeName'],
    commonName: (id) => id.nodeId,
    organizations: [nodesOrganization],
    san: nodeSans,
  },
  'etcd-peer': {
    // etcd uses one certificate both to accept and to dial peers.
    purpose: 'etcd member-to-member traffic (2380)',
    serverAuth: true,
    clientAuth: true,
    needs: ['nodeId', 'ips'],
    commonName: (id) => id.nodeId,
    organizations: [],
    san: { ...nodeSans, ipRequired: true },
  },
  'etcd-server': {
    // clientAuth too: etcd's JSON gateway dials its own server with it and returns 503 without.
    purpose: 'etcd client endpoint (2379)',
    serverAuth: true,
    clientAuth: true,
    needs: ['nodeId'],
    commonName: (id) => id.nodeId,
    organizations: [],
    san: { ...nodeSans, ipRequired: true },
  },
  'etcd-client': {
    purpose: 'a client of etcd (the agent, kube-apiserver)',
    serverAuth: false,
    clientAuth: true,
    needs: ['nodeId'],
    commonName: (id) => id.nodeId,
    organizations: [],
    san: noSans,
  },
  'kube-apiserver': {
    purpose: 'kube-apiserver serving (6443)',
    serverAuth: true,
    clientAuth: false,
    needs: [],
    commonName: () => 'kube-apiserver',
    organizations: [],
    san: { ...noSans, nodeName: true, nodeIps: true, localhost: 'always', kubernetesService: true },
  },
  'kubelet-client': {
    purpose: 'kube-apiserver calling kubelets (logs, exec)',
    serverAuth: false,
    clientAuth: true,
    needs: [],
    commonName: () => 'kube-apiserver-kubelet-client',
    organizations: ['system:masters'],
    san: noSans,
  },
  'kubelet-serving': {
    purpose: 'kubelet serving (10250)',
    serverAuth: true,
    clientAuth: false,
    needs: ['nodeName', 'ips'],
    commonName: nodeCn,
    organizations: ['system:nodes'],
    san: { ...noSans, nodeName: true, nodeIps: true },
  },
  kubelet: {
    purpose: 'kubelet calling kube-apiserver as its node',
    serverAuth: false,
    clientAuth: true,
    needs: ['nodeName'],
    commonName: nodeCn,
    organizations: ['system:nodes'],
    san: noSans,
  },
  'controller-manager': {
    purpose: 'kube-controller-manager calling kube-apiserver',
    serverAuth: false,
    clientAuth: true,
    needs: [],
    commonName: () => 'system:kube-controller-manager',
    organizations: [],
    san: noSans,
  },
  scheduler: {
    purpose: 'kube-scheduler calling kube-apiserver',
    serverAuth: false,
    clientAuth: true,
    needs: [],
    commonName: () => 'system:kube-scheduler',
    organizations: [],
    san: noSans,
  },
  kwok: {
    // kwok must list every Node to find its own, which the node authorizer forbids a
    // kubelet identity; it gets its own group, bound by manifests/kwok-rbac/rbac.yaml.
    purpose: "kwok standing in for a lab node's kubelet",
    serverAuth: false,
    clientAuth: true,
    needs: ['nodeName'],
    commonName: (id) => id.nodeName && `homecloud-kwok:${id.nodeName}`,
    organizations: ['homecloud:kwok'],
    san: noSans,
  },
  admin: {
    purpose: 'the cluster administrator (kubeconfig, homecloud CLI)',
    serverAuth: false,
    clientAuth: true,
    needs: [],
    commonName: () => 'homecloud-admin',
    organizations: ['system:masters'],
    san: noSans,
  },
}

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name)
}

/**
 * The organizational unit stamped on every leaf so a verifier can tell profiles apart
 * without guessing. Kubernetes reads only CN (user) and O (groups); etcd only CN.
 */
export function profileMarker(profile: ProfileName): string {
  return `homecloud:${profile}`
}

export function profileFromMarker(unit: string): ProfileName | undefined {
  const name = unit.startsWith('homecloud:') ? unit.slice('homecloud:'.length) : ''
  return isProfileName(name) ? name : undefined
}

/** Best guess for certificates without our marker, from their subject and usages. */
export function guessProfile(cert: {
  commonName: string
  organizations: readonly string[]
  serverAuth: boolean
  clientAuth: boolean
}): ProfileName | 'unknown' {
  const { commonName: cn, organizations: o, serverAuth, clientAuth } = cert
  for (const name of ['kubelet-client', 'controller-manager', 'scheduler', 'admin'] as const) {
    if (cn === PROFILES[name].commonName({})) return name
  }
  if (cn.startsWith('system:node:')) return serverAuth ? 'kubelet-serving' : 'kubelet'
  if (o.includes(nodesOrganization) && serverAuth && clientAuth) return 'agent'
  if (cn === 'kube-apiserver' && serverAuth) return 'kube-apiserver'
  if (clientAuth && !serverAuth) return 'etcd-client'
  return 'unknown'
}

export interface PlannedSans {
  dnsNames: string[]
  /** Addresses from the identity: the signer's `allowedIps` applies to these. */
  nodeIps: string[]
  /** Addresses the profile itself adds (service IP, loopback). */
  fixedIps: string[]
}

/** The SANs a profile gives an identity (uncanonicalised; the policy check cleans them). */
export function profileSans(profile: ProfileName, id: CertSubject): PlannedSans {
  const rule = PROFILES[profile].san
  const dnsNames: string[] = []
  const fixedIps: string[] = []
  if (rule.kubernetesService) {
    const domain = id.clusterDomain ?? defaultClusterDomain
    dnsNames.push(
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      `kubernetes.default.svc.${domain}`,
    )
    fixedIps.push(id.serviceIp ?? defaultServiceIp)
  }
  if (rule.nodeName && id.nodeName) dnsNames.push(id.nodeName)
  if (rule.nodeId && id.nodeId) dnsNames.push(id.nodeId)
  const localhost = rule.localhost === 'always' || (rule.localhost === 'optional' && id.localhost === true)
  if (localhost) {
    dnsNames.push('localhost')
    fixedIps.push(loopbackIp)
  }
  return { dnsNames, nodeIps: rule.nodeIps ? [...(id.ips ?? [])] : [], fixedIps }
}
