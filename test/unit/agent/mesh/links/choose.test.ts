import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../../../../../agent/core/random.js'
import { DEFAULT_LINK_TIMINGS, LinkBook } from '../../../../../agent/mesh/links/book.js'
import { chooseLinks, DEFAULT_LINK_LIMITS, ringNeighbours } from '../../../../../agent/mesh/links/choose.js'
import { LinkChooser } from '../../../../../agent/mesh/links/chooser.js'
import { simIds } from '../../../../sim/swim-cluster.js'

const limits = DEFAULT_LINK_LIMITS

describe('choosing links', () => {
  it('links to everyone while the cluster is small', () => {
    const ids = simIds(seededRandom(1), 10)
    assert.deepEqual(chooseLinks(ids[0]!, ids, limits), ids.slice(1).sort())
  })

  it('past that: ring neighbours by id both ways, then a few rendezvous picks', () => {
    const ids = simIds(seededRandom(2), 100)
    const self = ids[0]!
    const chosen = chooseLinks(self, ids, limits)
    assert.equal(chosen.length, 2 * limits.ringPerSide + limits.randomPicks)
    const sorted = [...ids].sort()
    const i = sorted.indexOf(self)
    const ring = [1, 2, -1, -2].map((d) => sorted[(i + d + sorted.length) % sorted.length]!)
    assert.deepEqual(new Set(chosen.slice(0, 4)), new Set(ring))
    assert.deepEqual(new Set(ringNeighbours(self, ids.slice(1), 2)), new Set(ring))
  })

  it('the overlay of all choices is connected, with bounded degree', () => {
    const ids = simIds(seededRandom(3), 500)
    const adj = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]))
    for (const id of ids)
      for (const p of chooseLinks(id, ids, limits)) {
        adj.get(id)!.add(p)
        adj.get(p)!.add(id)
      }
    const seen = new Set([ids[0]!])
    const queue = [ids[0]!]
    let hops = 0
    while (queue.length > 0 && hops < 10_000) {
      hops++
      for (const n of adj.get(queue.shift()!)!)
        if (!seen.has(n)) {
          seen.add(n)
          queue.push(n)
        }
    }
    assert.equal(seen.size, ids.length)
    const degrees = ids.map((id) => adj.get(id)!.size)
    assert.ok(Math.max(...degrees) <= 2 * limits.connectionsMax, `max degree ${Math.max(...degrees)}`)
  })

  it('a newcomer changes a choice rarely: picks are stable as members come and go', () => {
    const ids = simIds(seededRandom(4), 300)
    const self = ids[0]!
    const before = chooseLinks(self, ids.slice(0, 200), limits)
    const after = chooseLinks(self, ids, limits)
    const kept = before.filter((p) => after.includes(p)).length
    assert.ok(kept >= before.length - 4, `kept ${kept} of ${before.length}`)
  })

  it('the incremental chooser always agrees with choosing afresh', () => {
    const random = seededRandom(5)
    const ids = simIds(random, 200)
    const self = ids[0]!
    const c = new LinkChooser(self, limits)
    const members = new Set<string>()
    for (let step = 0; step < 600; step++) {
      const id = ids[1 + Math.floor(random.next() * (ids.length - 1))]!
      if (members.has(id) && random.next() < 0.4) {
        members.delete(id)
        c.remove(id)
      } else {
        members.add(id)
        c.add(id)
      }
      assert.deepEqual(c.wanted(new Set()), chooseLinks(self, [...members], limits), `step ${step}`)
    }
  })
})

describe('the link book', () => {
  const t = DEFAULT_LINK_TIMINGS
  const member = () => true

  it('keeps a link either side wants; one nobody wants lingers, then closes', () => {
    const b = new LinkBook(limits, t)
    b.opened('p', 0)
    b.opened('q', 0)
    b.peerSaid('q', true, false, 0)
    let plan = b.plan([], member, 10)
    assert.deepEqual(plan.tell, [
      { id: 'p', want: false },
      { id: 'q', want: false },
    ])
    assert.deepEqual(plan.close, [])
    plan = b.plan([], member, 10 + t.lingerMs)
    assert.deepEqual(plan.close, [{ id: 'p', full: false }], 'q stays: it wants the link')
    assert.deepEqual(plan.tell, [], 'said once')
  })

  it('over the limit: sheds unwanted links first, then refuses the newest the other side alone wants', () => {
    const small = { ...limits, connectionsMax: 2 }
    const b = new LinkBook(small, t)
    for (const [i, id] of ['mine', 'theirs1', 'theirs2', 'nobody'].entries()) b.opened(id, i)
    b.peerSaid('theirs1', true, false, 0)
    b.peerSaid('theirs2', true, false, 0)
    const plan = b.plan(['mine'], member, 10_000)
    assert.deepEqual(plan.close, [
      { id: 'nobody', full: false },
      { id: 'theirs2', full: true },
    ])
  })

  it('past strangersMax the newest strangers are refused, but not a non-member we asked for (a signer)', () => {
    const b = new LinkBook({ ...limits, strangersMax: 1 }, t)
    const nobody = () => false
    for (const [i, id] of ['old', 'new', 'signer'].entries()) b.opened(id, i)
    assert.deepEqual(
      b.plan(['signer'], nobody, t.strangerSettleMs - 10).close,
      [],
      'a stranger gets time to ask its question first',
    )
    const plan = b.plan(['signer'], nobody, t.strangerSettleMs + 5)
    assert.deepEqual(plan.close, [{ id: 'new', full: true }], 'the pinned signer is ours; one stranger kept')
  })

  it('a peer that said it is full is avoided for a while; wanted but unreachable peers are named', () => {
    const b = new LinkBook(limits, t)
    b.peerSaid('busy', false, true, 0)
    assert.deepEqual([...b.avoid(1)], ['busy'])
    assert.deepEqual([...b.avoid(t.fullAvoidMs + 1)], [])
    assert.deepEqual(b.plan(['far'], member, 0).dial, ['far'])
    assert.deepEqual(b.plan(['far'], member, 100).dial, [], 'dials back off')
    assert.deepEqual(b.plan(['far'], member, t.unreachableAfterMs).unreachable, ['far'])
  })
})
