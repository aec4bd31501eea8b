// What a homecloud node looks like as a Kubernetes Node (pure). The node registers itself
// with its own `system:node:<name>` certificate, so NodeRestriction allows only labels
// outside kubernetes.io except the well-known ones below; role labels and taints that a
// node may not set on itself are applied by the coordinator with admin rights.

export const labelPrefix = 'homecloud.dev'

export interface NodeFacts {
  name: string
  address: string
  arch: 'amd64' | 'arm64'
  board: string
  storageClass: string
  nodeId: string
}

/** Label values must be ≤ 63 chars of [A-Za-z0-9_.-], starting and ending alphanumeric. */
export function labelValue(raw: string): string {
  const v = raw
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
    .slice(0, 63)
  return v.replace(/[^A-Za-z0-9]+$/, '')
}

export function nodeLabels(f: NodeFacts): Record<string, string> {
  return {
    'kubernetes.io/arch': f.arch,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/hostname': f.name,
    [`${labelPrefix}/board`]: labelValue(f.board),
    [`${labelPrefix}/storage`]: labelValue(f.storageClass),
    [`${labelPrefix}/node-id`]: labelValue(f.nodeId),
  }
}

export interface NodeManifest {
  apiVersion: 'v1'
  kind: 'Node'
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> }
  spec: { podCIDR?: string; podCIDRs?: string[] }
  status: { addresses: { type: string; address: string }[] }
}

/**
 * `podCidr`: a kubelet node's pod range, set once at creation (the field is immutable):
 * its CNI hands out exactly this range and the cluster's CNI add-on routes it.
 */
export function nodeManifest(
  f: NodeFacts,
  extra: { kwok?: boolean; podCidr?: string; annotations?: Record<string, string> } = {},
): NodeManifest {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: f.name,
      labels: { ...nodeLabels(f), ...(extra.kwok ? { type: 'kwok' } : {}) },
      annotations: { ...(extra.kwok ? { 'kwok.x-k8s.io/node': 'fake' } : {}), ...extra.annotations },
    },
    spec: extra.podCidr ? { podCIDR: extra.podCidr, podCIDRs: [extra.podCidr] } : {},
    status: {
      addresses: [
        { type: 'InternalIP', address: f.address },
        { type: 'Hostname', address: f.name },
      ],
    },
  }
}
