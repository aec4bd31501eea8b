import { z } from 'zod'
import { KubeNodeView } from '../kube/nodes-view.js'
import { NodeStatsView, StatsPoint } from '../stats/schema.js'

export { KubeNodeView, NodeStatsView, StatsPoint }

// The body of GET /api/v1/cluster: the shape users, the CLI and tests rely on.
// The CLI parses responses with the same schema the server is held to.

export const MemberView = z.object({
  id: z.string(),
  name: z.string(),
  addresses: z.array(z.string()),
  arch: z.string(),
  board: z.string(),
  memoryMB: z.number(),
  cores: z.number(),
  storageClass: z.string(),
  fsyncP99Ms: z.number().nullable(),
  roles: z.array(z.string()),
  state: z.enum(['alive', 'suspect', 'dead', 'pending']),
  lastSeenMs: z.number(),
  stateSinceMs: z.number(),
  version: z.string(),
  incarnation: z.number(),
  self: z.boolean(),
  url: z.string(),
  /** Pending nodes: the short code to compare with the node's own console. */
  code: z.string().optional(),
  /** Its Kubernetes Node, when Kubernetes runs and a voter could read it. */
  kube: KubeNodeView.optional(),
  /** CPU, memory, disk, temperature, from the node itself (pulled over 7443). */
  stats: NodeStatsView.optional(),
  /** This node only, netbooted: which disk holds its state, or why none (agent/disk/state-disk-use.ts). */
  stateDisk: z.string().optional(),
})
export type MemberView = z.infer<typeof MemberView>

export const ClusterViewSchema = z.object({
  cluster: z.object({ id: z.string(), name: z.string() }),
  self: z.string(),
  coordinator: z.string().nullable(),
  members: z.array(MemberView),
  controlPlane: z.object({
    voters: z.array(z.string()),
    learners: z.array(z.string()),
    leader: z.string().nullable(),
    quorum: z.boolean(),
    source: z.enum(['etcd', 'mesh']),
    /** etcd's view read through this voter (over mutual TLS), not from a member on this node. */
    via: z.object({ id: z.string(), name: z.string() }).optional(),
    /** From the coordinator's `/homecloud/placement`: why each board was chosen or passed over. */
    reasons: z
      .array(
        z.object({
          id: z.string(),
          name: z.string().optional(),
          why: z.string(),
          /** Placement may give it a vote (spares and voters); false: refused (the why says for what). */
          eligible: z.boolean().optional(),
          chosen: z.boolean().optional(),
        }),
      )
      .max(256)
      .optional(),
    /** The placement policy the coordinator decided by: what kind of board can take a seat. */
    policy: z
      .object({
        eligibleArchs: z.array(z.string()).max(8),
        fsyncP99MsMax: z.number(),
        votersTarget: z.number().int(),
        failoverGraceMs: z.number(),
      })
      .optional(),
    /**
     * Boards of a fallback architecture placement gives a seat because too few preferred
     * boards can hold etcd (e.g. an x86 laptop beside two Pis); absent when there are none.
     */
    fallback: z.array(z.string()).max(64).optional(),
    /** The coordinator's next membership step, or why it waits. */
    next: z
      .object({
        kind: z.enum(['none', 'promote', 'add-learner', 'remove', 'wait']),
        id: z.string().optional(),
        reason: z.string().max(256).optional(),
      })
      .optional(),
    /** Quorum lost: the command that rebuilds the control plane on this surviving voter. */
    recovery: z.string().max(1024).optional(),
    /** `/homecloud/placement` was refused (schema, signature, signer): why. The coordinator rewrites it. */
    placementError: z.string().max(1024).optional(),
  }),
  /** Releases (agent/release): the current one per architecture, and what is wrong (full disks, refused records). */
  releases: z
    .object({
      current: z.array(z.object({ arch: z.string(), version: z.string(), id: z.string() })).max(8),
      problems: z.array(z.string().max(1024)).max(64),
    })
    .optional(),
  /** The rollout (control/rollout), when there is one: where it is, what it waits for, why it halted. */
  rollout: z
    .object({
      phase: z.string().max(32),
      target: z.string().max(64).nullable(),
      waiting: z.string().max(1024).nullable(),
      current: z
        .object({ name: z.string().max(253), step: z.string().max(32), sinceMs: z.number() })
        .nullable(),
      halt: z.string().max(1024).nullable(),
      /** The cluster lock, the rollout's hold on its node in progress named first (control/lock/view.ts). */
      lock: z.string().max(1024).nullable().optional(),
      bad: z
        .array(
          z.object({ version: z.string().max(64), node: z.string().max(253), reason: z.string().max(1024) }),
        )
        .max(64),
      nodes: z
        .array(
          z.object({
            name: z.string().max(253),
            version: z.string().max(64).nullable(),
            /** The slot it booted and whether it is committed, e.g. "b (committed)". */
            slot: z.string().max(128).nullable(),
            step: z.string().max(32).nullable(),
            outcome: z.string().max(1024).nullable(),
          }),
        )
        .max(1000),
    })
    .optional(),
  /** Services of type LoadBalancer: their LAN addresses and the node answering for each (kubelet clusters). */
  services: z
    .array(
      z.object({
        namespace: z.string(),
        name: z.string(),
        addresses: z.array(z.string()).max(16),
        ports: z.array(z.string()).max(64),
        node: z.string().nullable(),
      }),
    )
    .max(200)
    .optional(),
  events: z.array(
    z.object({
      atMs: z.number(),
      kind: z.string(),
      id: z.string().optional(),
      name: z.string().optional(),
      message: z.string(),
    }),
  ),
})
export type ClusterView = z.infer<typeof ClusterViewSchema>
