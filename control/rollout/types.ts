import type { SlotReport } from '../../agent/slots/types.js'
import type { RolloutBody, TargetRelease } from './record.js'

// What the rollout decision reads (the shell observes it: mesh, each node's slot report
// over 7443, etcd, Kubernetes, the lock, its own drain job) and the effects it returns.

export interface KubeNodeState {
  ready: boolean
  kubeletVersion: string
  unschedulable: boolean
  cordonedByHomecloud: boolean
  drainStatus: 'draining' | 'drained' | 'gave-up' | null
  drainMessage: string | null
  /** Why homecloud drained it (`shutdown`: the node drained itself to stop; back, it undrains itself). */
  drainReason?: string | null
  /** DaemonSet pods on the node that are Ready. */
  daemonPodsReady: number
  /** The kubelet (or kwok) renewed the Node's lease at this time (ms), if known. */
  heartbeatMs: number | null
}

export interface RolloutNode {
  id: string
  name: string
  /** Alive in the mesh (suspect counts as alive). */
  alive: boolean
  /** When the mesh saw it go down; null while alive. */
  deadSinceMs: number | null
  voter: boolean
  /** This node runs the rollout now (it goes last among the voters). */
  coordinator: boolean
  /** The agent version in its mesh record. */
  version: string | null
  /** When its agent started, by its own clock (mesh record): a kubelet heartbeat after it is from this boot. */
  startedAtMs: number | null
  /** Its slot report, read over 7443 with its certificate checked; null when it did not answer. */
  slots: SlotReport | null
  /** Why the report could not be read (unreachable, bad certificate, no boot slots). */
  slotsError: string | null
  /** It answered that it has no boot slots: it cannot be upgraded in place, and is not waited for. */
  noSlots?: boolean
  /** Its Kubernetes Node, when Kubernetes runs and the Node exists. */
  kube: KubeNodeState | null
  /** For a voter: its etcd member answers healthy. */
  etcdHealthy: boolean
  /** A netbooted machine's ids before its last boots (agent/mesh/successors.ts). */
  formerIds?: string[]
}

export interface EtcdState {
  votersTotal: number
  votersHealthy: number
  /** Voters placement wants (its target size). */
  votersTarget: number
  leader: string | null
  /** Since when the same leader has been seen (ms). */
  leaderSinceMs: number | null
}

export interface DrainJob {
  node: string
  state: 'running' | 'drained' | 'timeout' | 'failed'
  detail: string
}

export interface ObservedCluster {
  nowMs: number
  nodes: RolloutNode[]
  etcd: EtcdState
  /** The cluster lock: free, held by this coordinator for the rollout, or by someone else. */
  lock: {
    state: 'free' | 'ours' | 'other'
    holder: string | null
    /** The node the holder's operation disrupts (from the lock record). */
    node: string | null
    /** The lock key's create revision (its fencing token); null when free. */
    token: number | null
  }
  drain: DrainJob | null
  /** Kubernetes runs in this cluster (drains and Node checks apply). */
  kube: boolean
  /**
   * Nodes the rollout knows (the mesh's, the one in progress) that are no longer members,
   * by id, with why (revoked): they never come back, so they are skipped, not waited for.
   */
  left?: Readonly<Record<string, string>>
  /** How long the coordinator's mesh view has shown no node new to it (absent: settled). */
  viewAgeMs?: number
  /**
   * How long this coordinator has watched the node in progress in its step (monotonic;
   * absent: not watched, the record's step time is used). A coordinator that took over
   * gives a gate its whole time again: the record's time was written by another
   * coordinator's wall clock, which may be far off.
   */
  stepAgeMs?: number
}

export interface RolloutPolicy {
  triesPerBoot: number
  /** How long a rebooted node may take to pass its gate before it is reverted. */
  gateTimeoutMs: number
  /** A drain that cannot finish in this time is given up: the node is uncordoned and skipped. */
  drainTimeoutMs: number
  /** A voter is touched only once the etcd leader has been the same this long. */
  leaderStableMs: number
  /** A node dead this long during its upgrade is deferred (the lock freed) until it is back. */
  nodeGoneMs: number
  /** Orders not yet taken (an install, a reboot) are sent again after this long. */
  resendMs: number
}

/** The lock holder a coordinator writes when it locks a node for the rollout. */
export function rolloutLockHolder(nodeId: string): string {
  return `rollout:${nodeId}`
}

/**
 * Held by a coordinator for the rollout, but not by this one (a coordinator that lost its
 * seat, this node's agent before a restart): the rollout's own lock, which only the
 * coordinator acts on; the decision takes it over instead of waiting for its lease.
 */
export function heldByAnotherCoordinator(lock: ObservedCluster['lock']): boolean {
  return (
    lock.state === 'other' && lock.token !== null && lock.holder?.startsWith(rolloutLockHolder('')) === true
  )
}

export const rolloutPolicyDefault: RolloutPolicy = {
  triesPerBoot: 3,
  gateTimeoutMs: 5 * 60_000,
  drainTimeoutMs: 5 * 60_000,
  leaderStableMs: 5_000,
  nodeGoneMs: 60_000,
  resendMs: 10_000,
}

/** What a node is told to do with its boot slots (the node acts on a CA-signed order). */
export type SlotOrderAction = 'install' | 'try' | 'reboot' | 'commit' | 'fallback'

export type RolloutEffect =
  /** Persist the rollout record (compare-and-swap on what was read); later effects only if it took. */
  | { kind: 'record'; body: RolloutBody }
  | { kind: 'take-lock'; node: string }
  /** Delete the lock key only while its fencing token is still `token` (and end its lease), then take it. */
  | { kind: 'take-over-lock'; node: string; token: number }
  | { kind: 'release-lock' }
  | { kind: 'drain'; node: string; timeoutMs: number }
  | { kind: 'undrain'; node: string }
  | { kind: 'order'; node: string; action: SlotOrderAction; release?: TargetRelease; tries?: number }
  | { kind: 'set-current'; arch: 'amd64' | 'arm64'; release: TargetRelease }

export interface RolloutDecision {
  effects: RolloutEffect[]
  /** What it waits for now (also in the record when it changed). */
  waiting: string | null
}
