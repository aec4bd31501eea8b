import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../../../../../agent/core/random.js'
import { Awareness, localHealth, PeakWindow } from '../../../../../agent/mesh/swim/awareness.js'
import { DEFAULT_SWIM_CONFIG } from '../../../../../agent/mesh/swim/config.js'
import { Swim } from '../../../../../agent/mesh/swim/swim.js'
import type { SwimEffect } from '../../../../../agent/mesh/swim/types.js'
import type { Rec } from './harness.js'

const cfg = DEFAULT_SWIM_CONFIG
const tol = cfg.lagToleranceMs

describe('local health (Lifeguard) from event-loop lag', () => {
  it('lag below the tolerance is noise: score from evidence alone, accusing allowed', () => {
    assert.deepEqual(localHealth(0, tol - 1, cfg), { score: 0, accuses: true, lagMs: tol - 1 })
    assert.deepEqual(localHealth(3, 0, cfg), { score: 3, accuses: true, lagMs: 0 })
  })

  it('each tolerance of lag lifts the score, so the stretched timeout exceeds the lag', () => {
    for (const lag of [tol, 2.5 * tol, 5 * tol]) {
      const h = localHealth(0, lag, cfg)
      assert.equal(h.score, Math.floor(lag / tol))
      assert.equal(h.accuses, false, `lag ${lag} ms: accuses nobody`)
      assert.ok(cfg.probeTimeoutMs * (h.score + 1) > lag, 'the timeout waits the lag out')
    }
    // Evidence above the lag's floor stands; the score never passes its top.
    assert.equal(localHealth(5, tol, cfg).score, 5)
    assert.equal(localHealth(0, 100 * tol, cfg).score, cfg.awarenessMax - 1)
  })

  it('the lag waited out is capped: past the cap a stall is handled as a stall', () => {
    assert.equal(localHealth(0, 60_000, cfg).lagMs, tol * cfg.awarenessMax)
    assert.equal(localHealth(0, -5, cfg).lagMs, 0)
  })

  it('a lag counts for half the window to the whole of it, then is forgotten', () => {
    const w = new PeakWindow(4000)
    w.observe(300, 0)
    w.observe(10, 1000)
    assert.equal(w.peak, 300)
    w.observe(10, 2500)
    assert.equal(w.peak, 300, 'held into the next half-window')
    w.at(4600)
    assert.equal(w.peak, 10)
    w.at(9000)
    assert.equal(w.peak, 0, 'nothing measured for a whole window')
  })

  it('the machine-side state: lag lifts the multiplier, answered probes do not lower it below the lag', () => {
    const a = new Awareness(cfg)
    a.observeLag(2 * tol, 0)
    assert.equal(a.value, 2)
    assert.equal(a.scale(100), 300)
    assert.equal(a.accuses, false)
    a.apply(-1)
    assert.equal(a.value, 2, 'the lag floor holds while it is measured')
    a.at(cfg.lagWindowMs + 1)
    assert.equal(a.value, 0)
    assert.equal(a.accuses, true)
  })
})

const rec = (id: string): Rec => ({ id, incarnation: 1, version: 1, bytes: 600 })

/** Node a linked to b and t; b answers everything at once, t nothing. Returns a and its sink. */
function proberWithSilentTarget() {
  const a = new Swim<Rec>(
    { selfId: 'a', config: cfg, self: rec('a') },
    { random: seededRandom(5), meta: (r) => r, resign: () => rec('a') },
  )
  for (const id of ['b', 't']) a.receive(id, { t: 'gossip', gossip: [{ kind: 'alive', record: rec(id) }] }, 0)
  a.setLinks(['b', 't'], 0)
  const take = (effects: SwimEffect<Rec>[], now: number): void => {
    for (const e of effects) {
      if (e.kind !== 'send' || e.to !== 'b') continue
      if (e.msg.t === 'ping')
        take(a.receive('b', { t: 'ack', seq: e.msg.seq, links: [], gossip: [] }, now), now)
      if (e.msg.t === 'ping-req') take(a.receive('b', { t: 'nack', seq: e.msg.seq }, now), now)
    }
  }
  return { a, take }
}

describe('a lagging prober (SWIM machine)', () => {
  it('suspects nobody on missed acks while its own loop runs late, and does once it catches up', () => {
    const { a, take } = proberWithSilentTarget()
    let now = 0
    // Lag measured on every tick, as the shell feeds it: t's silence is not t's fault yet.
    for (; now < 20 * cfg.probeIntervalMs; now += 10) {
      a.observeLag(3 * tol, now)
      take(a.tick(now), now)
    }
    assert.equal(a.table.get('t')?.state, 'alive', 'no suspicion while lagging')
    assert.ok(a.health >= 3, `health ${a.health}`)
    // The loop catches up; after the window t's silence counts again.
    for (; now < 20 * cfg.probeIntervalMs + cfg.lagWindowMs + 40 * cfg.probeIntervalMs; now += 10) {
      a.observeLag(1, now)
      take(a.tick(now), now)
      if (a.table.get('t')?.state !== 'alive') break
    }
    assert.notEqual(a.table.get('t')?.state, 'alive', 'suspected once the lag is over')
  })
})
