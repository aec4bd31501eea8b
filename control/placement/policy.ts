import { z } from 'zod'
import { Arch } from '../../agent/facts/schema.js'

// Placement settings as they appear in the agent config (validated at that edge).

export const PlacementPolicy = z.object({
  /** Architectures allowed to run etcd; config may widen it (e.g. amd64 laptops). */
  eligibleArchs: z.array(Arch).min(1).default(['arm64', 'arm']),
  /**
   * Architectures that fill voter seats only while fewer than `votersTarget` boards of
   * `eligibleArchs` can hold etcd (two Pis and three laptops: the best laptop takes the
   * third seat rather than leaving the cluster with no failure to spare). Their seats go
   * back to an eligibleArchs board as soon as one can take them. [] turns this off.
   */
  fallbackArchs: z.array(Arch).default(['amd64']),
  /** etcd needs fast fsync; slower data disks (most SD cards) are refused. */
  fsyncP99MsMax: z.number().positive().default(10),
  /** Accept nodes that have not reported an fsync probe yet. */
  allowUnknownFsync: z.boolean().default(false),
  /** A dead member is replaced only after being dead this long (flapping boards stay). */
  failoverGraceMs: z.number().int().nonnegative().default(30_000),
  /** Voters once enough boards are eligible. Odd: an even count adds no fault tolerance. */
  votersTarget: z
    .number()
    .int()
    .min(1)
    .max(7)
    .refine((n) => n % 2 === 1, 'votersTarget must be odd')
    .default(3),
})
export type PlacementPolicy = z.infer<typeof PlacementPolicy>

export const DEFAULT_PLACEMENT_POLICY: PlacementPolicy = Object.freeze(PlacementPolicy.parse({}))
