import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_SWIM_CONFIG } from '../../../../../agent/mesh/swim/config.js'
import { Wires } from './harness.js'

const cfg = DEFAULT_SWIM_CONFIG

function trio(): Wires {
  const w = new Wires()
  for (const id of ['a', 'b', 'c']) w.add(id)
  w.linkAll()
  w.run(50)
  return w
}

describe('SWIM machine', () => {
  it('members learn each other through the digest exchange a new link starts', () => {
    const w = trio()
    for (const o of ['a', 'b', 'c'])
      for (const s of ['a', 'b', 'c']) if (o !== s) assert.equal(w.stateOf(o, s), 'alive', `${o} sees ${s}`)
  })

  it('probes one neighbour per period and answered probes keep everyone alive and healthy', () => {
    const w = trio()
    const before = w.sent.length
    w.run(10 * cfg.probeIntervalMs)
    const pings = w.sent.slice(before).filter((s) => s.msg.t === 'ping')
    // Three nodes, ten periods, one probe each per period.
    assert.ok(pings.length >= 27 && pings.length <= 33, `${pings.length} pings`)
    for (const n of w.nodes.values()) {
      assert.equal(n.swim.health, 0)
      assert.deepEqual(
        n.events.filter((e) => e.kind !== 'joined'),
        [],
      )
    }
  })

  it('an unanswered probe asks others (ping-req), then suspects, then declares death', () => {
    const w = trio()
    w.silenced.add('c')
    const t0 = w.now
    // Randomised round-robin over two neighbours: c's turn comes within three periods of
    // its last one, and that probe needs one more period to fail.
    w.run(5 * cfg.probeIntervalMs)
    const reqs = w.sent.filter((s) => s.msg.t === 'ping-req' && s.msg.target === 'c')
    assert.ok(reqs.length > 0, 'asked the other member to probe c')
    assert.equal(w.stateOf('a', 'c'), 'suspect')
    assert.equal(w.stateOf('b', 'c'), 'suspect')
    w.run(8_000)
    assert.equal(w.stateOf('a', 'c'), 'dead')
    assert.equal(w.stateOf('b', 'c'), 'dead')
    const deadAt = w.nodes.get('a')!.events.find((e) => e.kind === 'dead' && e.id === 'c')
    assert.ok(deadAt, 'a logged the death')
    void t0
  })

  it('an independent confirmation shortens the suspicion to its minimum', () => {
    // Four nodes: k = 2 expected confirmations; silence d and measure suspect → dead.
    const w = new Wires()
    for (const id of ['a', 'b', 'c', 'd']) w.add(id)
    w.linkAll()
    w.run(50)
    w.silenced.add('d')
    let suspectAt: number | null = null
    let deadAt: number | null = null
    while (w.now < 20_000 && deadAt === null) {
      w.run(10)
      if (suspectAt === null && w.stateOf('a', 'd') === 'suspect') suspectAt = w.now
      if (w.stateOf('a', 'd') === 'dead') deadAt = w.now
    }
    assert.ok(suspectAt !== null && deadAt !== null)
    // Every neighbour confirms within a probe timeout, so death comes at about the minimum
    // (1 s for a cluster of 4), far below the unconfirmed maximum (4 s).
    assert.ok(deadAt - suspectAt < 2 * cfg.suspicionMult * cfg.probeIntervalMs, `${deadAt - suspectAt} ms`)
  })

  it('a suspected member refutes with a higher incarnation and is alive again everywhere', () => {
    const w = trio()
    const c = w.nodes.get('c')!
    // c stops answering for one period only: long enough to be suspected.
    w.silenced.add('c')
    while (w.stateOf('a', 'c') !== 'suspect' && w.now < 5000) w.run(10)
    assert.equal(w.stateOf('a', 'c'), 'suspect')
    w.silenced.delete('c')
    w.run(2 * cfg.probeIntervalMs)
    assert.deepEqual(c.refutes, [2], 'c came back at incarnation 2')
    assert.equal(c.swim.incarnation, 2)
    assert.equal(w.stateOf('a', 'c'), 'alive')
    assert.equal(w.stateOf('b', 'c'), 'alive')
    assert.ok(w.nodes.get('a')!.events.some((e) => e.kind === 'refuted' && e.id === 'c'))
    assert.ok(c.swim.health > 0, 'having to refute counts against its own health')
  })

  it('a process that stalls accuses nobody for the time it was stopped', () => {
    const w = trio()
    const a = w.nodes.get('a')!
    w.run(cfg.probeIntervalMs)
    // a is stopped for 5 s: nothing it sent is answered meanwhile, no timer of its runs.
    w.now += 5000
    w.silenced.add('a')
    w.route('a', a.swim.tick(w.now))
    w.silenced.delete('a')
    assert.ok(a.swim.health > 0, 'the stall counts against its own health')
    w.run(cfg.probeIntervalMs)
    assert.equal(w.stateOf('a', 'b'), 'alive')
    assert.equal(w.stateOf('a', 'c'), 'alive')
    assert.deepEqual(
      a.events.filter((e) => e.kind !== 'joined'),
      [],
    )
  })

  it('a prober whose probes fail while its helpers say nothing either blames itself (Lifeguard)', () => {
    const w = trio()
    const a = w.nodes.get('a')!
    // Everything a sends is lost: no acks, no nacks.
    const send = w.route.bind(w)
    w.route = (from, effects) => send(from, from === 'a' ? effects.filter((e) => e.kind !== 'send') : effects)
    w.run(4 * cfg.probeIntervalMs)
    assert.ok(a.swim.health >= 2, `health ${a.swim.health}`)
    // Its probe period stretches with its score.
    const pings = w.sent.filter((s) => s.from === 'a' && s.msg.t === 'ping').length
    assert.ok(pings < 4, `${pings} probes in 4 base periods`)
  })

  it('leaving tells the neighbours, who mark the node dead at once', () => {
    const w = trio()
    w.route('c', w.nodes.get('c')!.swim.leave(w.now))
    assert.equal(w.stateOf('a', 'c'), 'dead')
    assert.equal(w.stateOf('b', 'c'), 'dead')
  })

  it('a record change is announced (have) and pulled once, not pushed to everyone in full', () => {
    const w = trio()
    const c = w.nodes.get('c')!
    const before = w.sent.length
    w.route('c', c.swim.announce({ id: 'c', incarnation: 1, version: 99, bytes: 600 }, w.now))
    w.run(2 * cfg.gossipIntervalMs)
    assert.equal(w.nodes.get('a')!.swim.table.get('c')?.version, 99)
    assert.equal(w.nodes.get('b')!.swim.table.get('c')?.version, 99)
    const wants = w.sent.slice(before).filter((s) => s.msg.t === 'want')
    assert.equal(wants.length, 2, 'each neighbour pulled the record once')
  })

  it('a newcomer gets the whole view from one exchange although all its links open at once', () => {
    const w = trio()
    const d = w.add('d')
    const before = w.sent.length
    w.route('d', d.swim.setLinks(['a', 'b', 'c'], w.now))
    for (const id of ['a', 'b', 'c']) {
      const n = w.nodes.get(id)!
      w.route(
        id,
        n.swim.setLinks(
          [...w.nodes.keys()].filter((k) => k !== id),
          w.now,
        ),
      )
    }
    for (const s of ['a', 'b', 'c']) assert.equal(w.stateOf('d', s), 'alive', `d knows ${s} at once`)
    const digestsFromD = w.sent.slice(before).filter((s) => s.from === 'd' && s.msg.t === 'digest')
    assert.equal(digestsFromD.length, 1, 'one exchange')
    const recordsToD = w.sent
      .slice(before)
      .filter((s) => s.to === 'd' && 'gossip' in s.msg)
      .flatMap((s) => ('gossip' in s.msg ? s.msg.gossip.map((u) => ({ from: s.from, u })) : []))
      .flatMap(({ from, u }) =>
        u.kind === 'member' || u.kind === 'alive' ? [{ from, id: u.record.id }] : [],
      )
    // The view once (one exchange); beyond it, each neighbour sends only its own record
    // (a new link introduces its two ends to each other), never the others'.
    const view = recordsToD.filter((r) => r.from !== r.id)
    assert.equal(view.length, 2, 'the view was sent once, not by every neighbour')
    assert.ok(recordsToD.length <= 3 + 3, `${recordsToD.length} records`)
    // The others hear of d by gossip.
    w.run(1000)
    for (const o of ['a', 'b', 'c']) assert.equal(w.stateOf(o, 'd'), 'alive')
  })
})
