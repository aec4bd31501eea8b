import { z } from 'zod'
import { Sha256Hex } from '../../agent/core/ids.js'

// `/homecloud/rollout`: the one rollout, in etcd, so a new coordinator resumes where the
// last one stopped. CA-signed like the release records (control/releases/records.ts):
// written by signers only (the coordinator, or a signer asked by the admin over 7443).
// It also keeps the releases marked bad cluster-wide, across rollouts: a bad release is
// never tried again until an admin says so (`upgrade start --retry-bad`).

export const ROLLOUT_KEY = '/homecloud/rollout'
export const rolloutNodesMax = 1000
export const badReleasesMax = 64
export const textCharsMax = 400

const Text = z.string().max(textCharsMax)
const NodeId = z.string().min(1).max(64)

/** One architecture's release in a rollout: what nodes of that architecture move to. */
export const TargetRelease = z
  .object({
    id: Sha256Hex,
    version: z.string().min(1).max(64),
    /** The Kubernetes version its kubelet runs (a --kube image), when it says. */
    kubernetes: z.string().max(40).optional(),
    /** The etcd version it carries, when it says. */
    etcd: z.string().max(40).optional(),
  })
  .strict()
export type TargetRelease = z.infer<typeof TargetRelease>

export const RolloutPhase = z.enum(['running', 'paused', 'halted', 'completed', 'aborted'])
export type RolloutPhase = z.infer<typeof RolloutPhase>

/** Where the node in progress is (see step.ts for what each step waits for). */
export const NodeStep = z.enum(['drain', 'install', 'try', 'gate', 'commit', 'uncordon', 'revert'])
export type NodeStep = z.infer<typeof NodeStep>

export const CurrentNode = z
  .object({
    node: NodeId,
    name: z.string().max(253),
    /** The architecture its slots boot (which target release it moves to). */
    arch: z.enum(['amd64', 'arm64']),
    step: NodeStep,
    /** When this node's upgrade began, and when it entered its step. */
    startedAtMs: z.number().int().nonnegative(),
    stepSinceMs: z.number().int().nonnegative(),
    /** The try was set: the node's boot count then (a boot after it is the new slot's). */
    bootsAtTry: z.number().int().nonnegative().optional(),
    /** DaemonSet pods ready on the node before its drain (the gate waits for as many). */
    daemonPods: z.number().int().nonnegative().optional(),
    /** The last order sent for this step (orders not taken are sent again after a while). */
    orderedAtMs: z.number().int().nonnegative().optional(),
    /** Why it is skipped (its drain did not finish): uncordoned, then recorded as skipped. */
    skip: Text.optional(),
    /** Why it is being reverted (the gate failed). */
    failure: Text.optional(),
  })
  .strict()
export type CurrentNode = z.infer<typeof CurrentNode>

export const NodeOutcome = z
  .object({
    name: z.string().max(253),
    state: z.enum(['done', 'skipped', 'failed']),
    atMs: z.number().int().nonnegative(),
    detail: Text,
  })
  .strict()
export type NodeOutcome = z.infer<typeof NodeOutcome>

export const BadRelease = z
  .object({
    id: Sha256Hex,
    version: z.string().max(64),
    node: z.string().max(253),
    reason: Text,
    atMs: z.number(),
  })
  .strict()
export type BadRelease = z.infer<typeof BadRelease>

export const RolloutBody = z
  .object({
    v: z.literal(1),
    clusterId: z.string().min(1).max(64),
    /** Record version: only grows (a replayed older record is refused by readers). */
    version: z.number().int().positive(),
    /** This rollout: `r<startedAtMs>`; null when no rollout ever ran (only bad marks kept). */
    id: z.string().max(40).nullable(),
    target: z
      .object({
        version: z.string().max(64),
        releases: z.object({ amd64: TargetRelease.optional(), arm64: TargetRelease.optional() }).strict(),
      })
      .strict()
      .nullable(),
    /** Workers upgraded first, before any control-plane board (when the Kubernetes version allows it). */
    canary: z.number().int().min(0).max(16),
    phase: RolloutPhase,
    startedAtMs: z.number().int().nonnegative(),
    current: CurrentNode.nullable(),
    nodes: z.record(NodeId, NodeOutcome).refine((r) => Object.keys(r).length <= rolloutNodesMax),
    /** Why the rollout stopped by itself. */
    halt: z
      .object({ node: z.string().max(253), reason: Text, atMs: z.number() })
      .strict()
      .nullable(),
    /** What the controller waits for right now (status page, `upgrade status`). */
    waiting: Text.nullable(),
    bad: z.array(BadRelease).max(badReleasesMax),
  })
  .strict()
export type RolloutBody = z.infer<typeof RolloutBody>

/** The record a new rollout starts from: the bad marks of the last one kept. */
export function newRollout(
  prev: RolloutBody | null,
  o: {
    clusterId: string
    target: NonNullable<RolloutBody['target']>
    canary: number
    nowMs: number
    retryBad: boolean
  },
): RolloutBody {
  const ids = new Set(Object.values(o.target.releases).map((r) => r?.id))
  return {
    v: 1,
    clusterId: o.clusterId,
    version: (prev?.version ?? 0) + 1,
    id: `r${o.nowMs}`,
    target: o.target,
    canary: o.canary,
    phase: 'running',
    startedAtMs: o.nowMs,
    current: null,
    nodes: {},
    halt: null,
    waiting: null,
    bad: (prev?.bad ?? []).filter((b) => !(o.retryBad && ids.has(b.id))),
  }
}

/** A rollout that may still change nodes: running, or finishing its node (paused, halted, aborted). */
export function isActive(r: RolloutBody | null): boolean {
  return !!r && (r.phase === 'running' || r.current !== null)
}

/**
 * The releases a rollout still moves nodes to, which every node keeps wanting
 * (control/releases wantedIds) however many releases are published meanwhile: running,
 * paused (a pause is resumed), and aborted while its node in progress finishes (it may
 * still be installing). Not halted (its gate failed: the release is marked bad and the
 * rollout cannot resume; the node in progress reverts to `previous`, kept anyway), nor
 * completed (the target is current). A target marked bad is never pinned.
 */
export function pinnedTargets(r: RolloutBody | null): string[] {
  const finishing = r?.phase === 'aborted' && r.current !== null
  if (!r?.target || !(r.phase === 'running' || r.phase === 'paused' || finishing)) return []
  const bad = new Set(r.bad.map((b) => b.id))
  return Object.values(r.target.releases)
    .flatMap((t) => (t ? [t.id] : []))
    .filter((id) => !bad.has(id))
    .sort()
}
