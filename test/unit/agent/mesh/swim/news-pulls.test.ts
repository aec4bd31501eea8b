import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../../../../../agent/core/random.js'
import { DEFAULT_SWIM_CONFIG } from '../../../../../agent/mesh/swim/config.js'
import { Suspicions } from '../../../../../agent/mesh/swim/suspicion.js'
import { Swim } from '../../../../../agent/mesh/swim/swim.js'
import type { SwimEffect, SwimMessage } from '../../../../../agent/mesh/swim/types.js'
import type { Rec } from './harness.js'

// How a node comes to hold every member's record although announcements are lost: the
// three causes of the 200-node convergence tail in the simulator (issue 16), one test each.

const cfg = DEFAULT_SWIM_CONFIG
const rec = (id: string, incarnation = 1, version = 1): Rec => ({ id, incarnation, version, bytes: 600 })

function machine(id: string): Swim<Rec> {
  return new Swim<Rec>(
    { selfId: id, config: cfg, self: rec(id) },
    { random: seededRandom(7), meta: (r) => r, resign: (inc) => rec(id, inc) },
  )
}

const sends = (effects: SwimEffect<Rec>[]) =>
  effects.flatMap((e) => (e.kind === 'send' ? [{ to: e.to, msg: e.msg }] : []))
const wantsOf = (effects: SwimEffect<Rec>[]) =>
  sends(effects).flatMap((s) => (s.msg.t === 'want' ? [{ to: s.to, ids: s.msg.ids }] : []))
const have = (id: string): SwimMessage<Rec> => ({
  t: 'gossip',
  gossip: [{ kind: 'have', id, incarnation: 1, version: 1 }],
})

/** A node `d` linked to members a and b (it knows their records), synced a while ago. */
function linkedNode(): Swim<Rec> {
  const d = machine('d')
  d.receive('a', { t: 'gossip', gossip: [{ kind: 'alive', record: rec('a') }] }, 0)
  d.receive('b', { t: 'gossip', gossip: [{ kind: 'alive', record: rec('b') }] }, 0)
  d.setLinks(['a', 'b'], 0)
  return d
}

describe('SWIM record pulls', () => {
  it('an announcement from a peer we hold no link to is not pulled from it: the next linked announcer is asked', () => {
    const d = linkedNode()
    // x's ack arrived after our link to it closed: a want to x could not be sent.
    assert.deepEqual(wantsOf(d.receive('x', have('z'), 100)), [])
    // Nothing counts as asked, so the next announcement is pulled at once, not in a second.
    assert.deepEqual(wantsOf(d.receive('a', have('z'), 110)), [{ to: 'a', ids: ['z'] }])
  })

  it('a pull whose reply never came is asked again of a neighbour, then given up to a digest exchange', () => {
    const d = linkedNode()
    assert.deepEqual(wantsOf(d.receive('a', have('z'), 6_000)), [{ to: 'a', ids: ['z'] }])
    // The link the reply travelled on closed; no one announces z again.
    const retries: string[] = []
    let digests = 0
    for (let t = 6_010; t <= 9_500; t += 10) {
      const out = d.tick(t)
      for (const w of wantsOf(out)) if (w.ids.includes('z')) retries.push(w.to)
      digests += sends(out).filter((s) => s.msg.t === 'digest').length
    }
    assert.equal(retries.length, 2, `asked again twice (three tries in all): ${retries}`)
    for (const to of retries) assert.ok(to === 'a' || to === 'b')
    assert.ok(digests >= 1, 'then a digest exchange fetches it')
    // The record arrives: it is no longer asked for.
    d.receive('b', { t: 'gossip', gossip: [{ kind: 'alive', record: rec('z') }] }, 9_600)
    assert.equal(d.table.get('z')?.state, 'alive')
  })

  it('a new link introduces our record although the exchange was spent on an earlier link', () => {
    const d = machine('d')
    const out = sends(d.setLinks(['a', 'b', 'c'], 0))
    const digests = out.filter((s) => s.msg.t === 'digest').map((s) => s.to)
    assert.deepEqual(digests, ['a'], 'one exchange at a time')
    for (const to of ['b', 'c']) {
      const intro = out.find((s) => s.to === to && s.msg.t === 'gossip')
      assert.ok(intro && 'gossip' in intro.msg, `${to} is sent our record`)
      assert.deepEqual(intro.msg.gossip, [{ kind: 'alive', record: rec('d') }])
    }
  })
})

describe('suspicion news pulls', () => {
  const bounds = { minMs: 1_000, maxMs: 4_000 }

  it('an unconfirmed suspicion asks for news once it stood its minimum, not just before its maximum', () => {
    const s = new Suspicions()
    s.start('x', 1, 'y', 0, bounds, 3)
    assert.equal(s.nextDeadline(400), 1_000)
    assert.deepEqual(s.pullDue(999, 400), [])
    assert.deepEqual(s.pullDue(1_000, 400), ['x'])
    assert.deepEqual(s.pullDue(3_700, 400), [], 'once')
    assert.equal(s.nextDeadline(400), 4_000, 'then its deadline')
  })

  it('a confirmed suspicion asks shortly before its (shrunk) deadline', () => {
    const s = new Suspicions()
    s.start('x', 1, 'y', 0, bounds, 1)
    s.confirm('x', 'z')
    assert.equal(s.nextDeadline(400), 600)
    assert.deepEqual(s.pullDue(600, 400), ['x'])
    assert.deepEqual(s.due(1_000), [{ id: 'x', incarnation: 1 }])
  })
})
