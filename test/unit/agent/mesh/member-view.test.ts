import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemberViews } from '../../../../agent/mesh/member-view.js'
import { type SignedRecord, signRecord } from '../../../../agent/mesh/record.js'
import type { SwimMember } from '../../../../agent/mesh/swim/types.js'
import { newIdentity, recordBody } from '../../../support/records.js'

const WALL = 1_800_000_000_000

function dead(stateSinceMono: number): SwimMember<SignedRecord> {
  const id = newIdentity()
  return {
    id: id.id,
    record: signRecord(recordBody(id), id),
    recordIncarnation: 1,
    version: 1,
    incarnation: 1,
    state: 'dead',
    stateSinceMono,
    deadIncarnation: 1,
  }
}

describe('the read model of SWIM members', () => {
  it('gives wall times in whole milliseconds, though the monotonic clock has fractions', () => {
    const [m] = new MemberViews().of([dead(1234.567)], WALL, 5000.123)
    assert.equal(m?.stateSinceMs, WALL - 3766)
    assert.ok(Number.isInteger(m?.lastHeardMs) && Number.isInteger(m?.firstSeenMs))
  })

  it('fixes a state change’s wall time once: later reads do not wobble as the two clocks tick apart', () => {
    const views = new MemberViews()
    const m = dead(1000.4)
    const first = views.of([m], WALL, 2000.0)[0]?.stateSinceMs
    // The wall clock ticks in whole ms, the monotonic one not: derived afresh this would be 1 ms off.
    const later = views.of([m], WALL + 10_000, 12_000.9)[0]?.stateSinceMs
    assert.equal(first, WALL - 1000)
    assert.equal(later, first)
    // A new state change gets a new time.
    const back = views.of([{ ...m, state: 'alive', stateSinceMono: 12_000.9 }], WALL + 10_000, 12_000.9)[0]
    assert.equal(back?.stateSinceMs, WALL + 10_000)
  })
})
