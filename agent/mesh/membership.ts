import type { SignedRecord } from './record.js'

// How the rest of the agent sees a member of the mesh (the status page, placement,
// trust, releases). Membership itself is SWIM (swim/, swim-shell.ts); this is its read model.

export type MemberState = 'alive' | 'suspect' | 'dead'

export interface Member {
  signed: SignedRecord
  state: MemberState
  /** Monotonic time the member was last known alive (now, while it is). */
  lastHeardMono: number
  /** Wall time of the same moment, for display. */
  lastHeardMs: number
  /** Wall time, whole milliseconds (it ends up in signed records: the placement's deadSince). */
  stateSinceMs: number
  firstSeenMs: number
  /** Records at or below this incarnation can no longer bring the member back. */
  deadIncarnation: number | null
}
