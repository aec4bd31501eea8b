import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  heartbeatPeriodMs,
  MembershipTable,
  refute,
  scaledTimings,
} from '../../../../agent/mesh/membership.js'
import { newIdentity, signed } from '../../../support/records.js'

const timings = { suspectAfterMs: 1000, deadAfterMs: 1000 }

describe('membership table', () => {
  const self = newIdentity()
  const peer = newIdentity()

  it('a new member joins alive, then turns suspect, then dead as it stays silent', () => {
    const t = new MembershipTable(self.id, timings)
    const v = t.accept(signed(peer), 0, 0)
    assert.deepEqual(v.accepted && v.events.map((e) => e.kind), ['joined'])
    assert.deepEqual(t.tick(900, 900), [])
    assert.deepEqual(
      t.tick(1001, 1001).map((e) => e.kind),
      ['suspect'],
    )
    assert.equal(t.get(peer.id)?.state, 'suspect')
    assert.deepEqual(t.tick(1999, 1999), [])
    assert.deepEqual(
      t.tick(2001, 2001).map((e) => e.kind),
      ['dead'],
    )
    assert.equal(t.get(peer.id)?.deadIncarnation, 1)
  })

  it('a slow member refutes suspicion with a fresh heartbeat', () => {
    const t = new MembershipTable(self.id, timings)
    t.accept(signed(peer, { heartbeat: 1 }), 0, 0)
    t.tick(1500, 1500)
    const v = t.accept(signed(peer, { heartbeat: 2 }), 1600, 1600)
    assert.deepEqual(v.accepted && v.events.map((e) => e.kind), ['refuted'])
    assert.equal(t.get(peer.id)?.state, 'alive')
    assert.deepEqual(t.tick(2100, 2100), [], 'silence is measured from the refutation')
  })

  it('rejects replays and old heartbeats as stale', () => {
    const t = new MembershipTable(self.id, timings)
    const r = signed(peer, { heartbeat: 5 })
    t.accept(r, 0, 0)
    assert.deepEqual(t.accept(r, 1, 1), { accepted: false, reason: 'stale' })
    assert.deepEqual(t.accept(signed(peer, { heartbeat: 4 }), 1, 1), { accepted: false, reason: 'stale' })
    assert.equal(t.accept(signed(peer, { incarnation: 2, heartbeat: 0 }), 1, 1).accepted, true)
  })

  it('a dead member comes back only with a higher incarnation', () => {
    const t = new MembershipTable(self.id, timings)
    t.accept(signed(peer, { incarnation: 3, heartbeat: 10 }), 0, 0)
    t.tick(5000, 5000)
    assert.equal(t.get(peer.id)?.state, 'dead')
    const late = t.accept(signed(peer, { incarnation: 3, heartbeat: 11 }), 5100, 5100)
    assert.deepEqual(late, { accepted: false, reason: 'dead-incarnation', deadIncarnation: 3 })
    const back = t.accept(signed(peer, { incarnation: 4, heartbeat: 0 }), 5200, 5200)
    assert.deepEqual(back.accepted && back.events.map((e) => e.kind), ['rejoined'])
    assert.equal(t.get(peer.id)?.state, 'alive')
  })

  it('ignores its own record', () => {
    const t = new MembershipTable(self.id, timings)
    assert.deepEqual(t.accept(signed(self), 0, 0), { accepted: false, reason: 'self' })
    assert.equal(t.all().length, 0)
  })

  it('is bounded: a full table evicts the longest-dead member, else refuses newcomers', () => {
    const t = new MembershipTable(self.id, timings, 2)
    const [a, b, c, d] = [newIdentity(), newIdentity(), newIdentity(), newIdentity()]
    t.accept(signed(a), 0, 0)
    t.accept(signed(b), 0, 0)
    assert.deepEqual(t.accept(signed(c), 0, 0), { accepted: false, reason: 'table-full' })
    t.tick(5000, 5000)
    assert.equal(t.accept(signed(c), 5000, 5000).accepted, true)
    assert.equal(t.all().length, 2)
    assert.equal(t.accept(signed(d), 5000, 5000).accepted, true, 'the other dead member makes room')
  })

  it('refute bumps past the incarnation in a notice, and ignores old notices', () => {
    assert.equal(refute(3, 3), 4)
    assert.equal(refute(3, 7), 8)
    assert.equal(refute(5, 2), 5)
  })

  describe('heartbeat budget', () => {
    const budget = { heartbeatMs: 500, heartbeatsPerSecMax: 32 }
    const base = { suspectAfterMs: 1200, deadAfterMs: 1200 }

    it('keeps the base period and timings while the cluster is small', () => {
      for (const peers of [0, 1, 4, 12, 16]) assert.equal(heartbeatPeriodMs(budget, peers), 500)
      for (const peers of [0, 4, 12]) assert.deepEqual(scaledTimings(base, budget, peers), base)
    })

    it('stretches the period so a node receives at most the budget, and timeouts with it', () => {
      assert.equal(heartbeatPeriodMs(budget, 49), 1532)
      assert.ok((49 * 1000) / heartbeatPeriodMs(budget, 49) <= 32)
      const t = scaledTimings(base, budget, 49)
      // Judged as if the view were a quarter larger (others may know more members).
      const f = heartbeatPeriodMs(budget, 62) / 500
      assert.deepEqual(t, { suspectAfterMs: Math.round(1200 * f), deadAfterMs: Math.round(1200 * f) })
      assert.ok(
        t.suspectAfterMs / heartbeatPeriodMs(budget, 49) >= 2.4,
        'still more than two periods of silence',
      )
    })

    it('a big table waits longer before suspecting; dead members do not count', () => {
      const t = new MembershipTable(self.id, base, undefined, budget)
      const peers = Array.from({ length: 40 }, () => newIdentity())
      for (const p of peers) t.accept(signed(p), 0, 0)
      assert.equal(t.livePeers(), 40)
      const { suspectAfterMs, deadAfterMs } = t.timingsNow()
      assert.ok(suspectAfterMs > 1200)
      assert.deepEqual(t.tick(suspectAfterMs, suspectAfterMs), [], 'not yet: silent exactly the limit')
      assert.equal(t.tick(suspectAfterMs + 1, suspectAfterMs + 1).length, 40)
      const end = suspectAfterMs + deadAfterMs + 1
      assert.equal(t.tick(end, end).filter((e) => e.kind === 'dead').length, 40)
      assert.equal(t.livePeers(), 0)
      assert.deepEqual(t.timingsNow(), base, 'back to the base timings once they are gone')
    })

    it('without a budget the timings never change', () => {
      const t = new MembershipTable(self.id, base)
      for (let i = 0; i < 40; i++) t.accept(signed(newIdentity()), 0, 0)
      assert.deepEqual(t.timingsNow(), base)
    })
  })
})
