import type { Role } from '../mesh/record.js'
import type { VerifiedMembership } from './view.js'

// A node announces its own roles in its mesh record, and a member's record is signed by
// its own key: nothing stops a member from claiming a seat it does not hold. etcd is the
// source of truth, so claims are checked against it; nothing trusts a claim etcd
// contradicts (snapshot senders, for one, are judged by etcd's voter list), and every
// contradiction that outlives one read of etcd is counted and logged. Pure.

const SEATS = ['etcd-voter', 'etcd-learner', 'coordinator'] as const satisfies readonly Role[]

/** Node id → the claimed seats etcd does not confirm ("etcd-voter,coordinator"). */
export function contradictedClaims(
  bodies: readonly { id: string; roles: readonly Role[] }[],
  m: VerifiedMembership,
): Map<string, string> {
  const out = new Map<string, string>()
  for (const b of bodies) {
    const wrong = SEATS.filter((seat) => {
      if (!b.roles.includes(seat)) return false
      if (seat === 'etcd-voter') return !m.voters.has(b.id)
      if (seat === 'etcd-learner') return !m.learners.has(b.id)
      return m.coordinator !== b.id
    })
    if (wrong.length > 0) out.set(b.id, wrong.join(','))
  }
  return out
}

/**
 * Counts a contradiction once, when it is seen in two reads in a row (a node promoted a
 * moment ago announces its seat before our last read of etcd knows it).
 */
export class ClaimWatch {
  private seen = new Map<string, string>()
  private reported = new Map<string, string>()

  /** The contradictions to report now (new, and seen twice running). */
  update(now: ReadonlyMap<string, string>): [string, string][] {
    const report: [string, string][] = []
    for (const [id, claim] of now) {
      if (this.seen.get(id) === claim && this.reported.get(id) !== claim) {
        report.push([id, claim])
        this.reported.set(id, claim)
      }
    }
    for (const id of [...this.reported.keys()]) if (!now.has(id)) this.reported.delete(id)
    this.seen = new Map(now)
    return report
  }
}
