import type { V1Pod, V1PodDisruptionBudget } from '../../../../control/kubeapi/types.js'

// Small builders for pods and budgets in the shapes the API server returns.

export function pod(
  name: string,
  opts: {
    ns?: string
    node?: string
    labels?: Record<string, string>
    owner?: { kind: string; name: string } | null
    mirror?: boolean
    emptyDir?: boolean
    phase?: string
    terminating?: boolean
  } = {},
): V1Pod {
  const owner = opts.owner === undefined ? { kind: 'ReplicaSet', name: 'web-1' } : opts.owner
  return {
    metadata: {
      name,
      namespace: opts.ns ?? 'default',
      uid: `uid-${name}`,
      labels: opts.labels ?? { app: 'web' },
      ...(owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: 'o', controller: true },
            ],
          }
        : {}),
      ...(opts.mirror ? { annotations: { 'kubernetes.io/config.mirror': 'abc' } } : {}),
      ...(opts.terminating ? { deletionTimestamp: new Date(0) } : {}),
    },
    spec: {
      nodeName: opts.node ?? 'w1',
      containers: [{ name: 'c', image: 'x' }],
      ...(opts.emptyDir ? { volumes: [{ name: 'scratch', emptyDir: {} }] } : {}),
    },
    status: { phase: opts.phase ?? 'Running' },
  }
}

export function pdb(
  name: string,
  opts: {
    ns?: string
    matchLabels?: Record<string, string>
    allowed: number
    expected?: number
    selector?: V1PodDisruptionBudget['spec'] extends infer S
      ? S extends { selector?: infer L }
        ? L
        : never
      : never
  },
): V1PodDisruptionBudget {
  return {
    metadata: { name, namespace: opts.ns ?? 'default' },
    spec: { selector: opts.selector ?? { matchLabels: opts.matchLabels ?? { app: 'web' } } },
    status: {
      disruptionsAllowed: opts.allowed,
      expectedPods: opts.expected ?? 4,
      currentHealthy: opts.expected ?? 4,
      desiredHealthy: (opts.expected ?? 4) - opts.allowed,
      observedGeneration: 1,
    },
  }
}
