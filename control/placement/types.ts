import type { Arch, StorageClass } from '../../agent/facts/schema.js'

// The shapes placement reads and returns. The shell builds NodeView from the mesh
// view and MemberSet from etcd; placement itself never looks anywhere else.

export type NodeState = 'alive' | 'suspect' | 'dead' | 'pending'

export interface NodeView {
  id: string
  name: string
  arch: Arch
  alive: boolean
  state: NodeState
  /** When the mesh first saw the node down; null/absent while up (or if unknown). */
  deadSinceMs?: number | null
  optedOut: boolean
  /** Certificate revoked by the owner: never trusted with consensus again. */
  revoked?: boolean
  memoryMB: number
  cores: number
  storageClass: StorageClass
  /** p99 of the fsync probe on the data directory; null when the node has no probe result. */
  fsyncP99Ms: number | null
  /** Its state lives in RAM (netbooted without a state disk): never an etcd seat. Absent = on disk. */
  ramOnly?: boolean
}

/** etcd membership as etcd reports it. Learners are in-flight additions. */
export interface MemberSet {
  voters: string[]
  learners: string[]
  /** Decided by the shell (raft index close to the leader's); absent means "not yet". */
  learnerCaughtUp?: Record<string, boolean>
}

export type PlacementAction =
  | { kind: 'none' }
  | { kind: 'promote'; id: string }
  | { kind: 'add-learner'; id: string }
  | { kind: 'remove'; id: string; reason: string }
  | { kind: 'wait'; reason: string; id?: string }

export interface NodeReason {
  eligible: boolean
  /** In the target voter set. */
  chosen: boolean
  /** One line for the status page. */
  why: string
}

export interface Placement {
  /** Desired voter ids, best-ranked first. */
  target: string[]
  /**
   * Target boards of a fallback architecture, filling seats no preferred board can (e.g.
   * an x86 laptop beside two Pis); empty when every seat goes to a preferred board.
   */
  fallback: string[]
  /** Boards of the preferred architectures that could hold a vote. */
  preferredCandidates: number
  /** The single next membership change (or why there is none). */
  next: PlacementAction
  reasons: Record<string, NodeReason>
  quorumLost: boolean
}
