import type { AddonDocument } from './documents.js'

// The order documents are applied in (pure): what others live in or depend on first.
// Namespaces before anything namespaced; CRDs before their custom objects; accounts and
// RBAC before the workloads that run as them; configuration before the pods that mount
// it. Within a rank, files and documents keep their written order.

const RANKS: Record<string, number> = {
  Namespace: 0,
  CustomResourceDefinition: 1,
  PriorityClass: 2,
  ServiceAccount: 3,
  ClusterRole: 3,
  ClusterRoleBinding: 3,
  Role: 3,
  RoleBinding: 3,
  ConfigMap: 4,
  Secret: 4,
  StorageClass: 4,
}
const RANK_OTHER = 5

export function applyRank(kind: string): number {
  return RANKS[kind] ?? RANK_OTHER
}

export function orderForApply(docs: readonly AddonDocument[]): AddonDocument[] {
  return docs
    .map((d, i) => ({ d, i }))
    .sort((a, b) => applyRank(a.d.object.kind) - applyRank(b.d.object.kind) || a.i - b.i)
    .map(({ d }) => d)
}
