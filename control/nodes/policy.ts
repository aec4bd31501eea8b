import { z } from 'zod'

// How long a node may be gone before its pods are moved (the out-of-service taint) and
// before its Node object is deleted. Config edge: parsed, with defaults.

export const NodeLifecyclePolicy = z.object({
  /** Dead by the mesh and NotReady this long → out-of-service taint. */
  nodeGraceMs: z
    .number()
    .int()
    .min(0)
    .max(24 * 3_600_000)
    .default(30_000),
  /** Gone this long → its Node object is deleted (identity and certificate stay). */
  nodeDeleteAfterMs: z
    .number()
    .int()
    .min(60_000)
    .max(365 * 24 * 3_600_000)
    .default(24 * 3_600_000),
})
export type NodeLifecyclePolicy = z.infer<typeof NodeLifecyclePolicy>

export const nodeLifecyclePolicyDefault: NodeLifecyclePolicy = NodeLifecyclePolicy.parse({})
