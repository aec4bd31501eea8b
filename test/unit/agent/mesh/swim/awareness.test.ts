import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../../../../../agent/core/random.js'
import { Awareness, localHealth, mayAccuse, PeakWindow } from '../../../../../agent/mesh/swim/awareness.js'
import { DEFAULT_SWIM_CONFIG } from '../../../../../agent/mesh/swim/config.js'
import { Swim } from '../../../../../agent/mesh/swim/swim.js'
import type { SwimEffect } from '../../../../../agent/mesh/swim/types.js'
import type { Rec } from './harness.js'

const cfg = DEFAULT_SWIM_CONFIG
const tol = cfg.lagToleranceMs

describe('local health (Lifeguard) from event-loop lag', () => {
  it('lag below the tolerance is noise: score from evidence alone, an unstretched probe accuses', () => {
    assert.deepEqual(localHealth(0, tol - 1, cfg), { score: 0, lagMs: tol - 1 })
    assert.deepEqual(localHealth(3, 0, cfg), { score: 3, lagMs: 0 })
    assert.equal(mayAccuse(cfg.probeTimeoutMs, localHealth(0, tol - 1, cfg)), true)
  })

  it('each tolerance of lag lifts the score; a probe stretched by it may accuse, one started before may not', () => {
    for (const lag of [tol, 2.5 * tol, 5 * tol, cfg.stallToleranceMs - 1]) {
      const h = localHealth(0, lag, cfg)
      assert.equal(h.score, Math.floor(lag / tol))
      const stretched = cfg.probeTimeoutMs * (h.score + 1)
      assert.ok(stretched > lag, 'the timeout waits the lag out')
      assert.equal(mayAccuse(stretched, h), true, `lag ${lag} ms: a stretched probe accuses`)
      assert.equal(mayAccuse(cfg.probeTimeoutMs, h), false, `lag ${lag} ms: an unstretched probe does not`)
    }
    // Evidence above the lag's floor stands; the score never passes its top.
    assert.equal(localHealth(5, tol, cfg).score, 5)
    assert.equal(localHealth(0, 100 * tol, cfg).score, cfg.awarenessMax - 1)
  })

  it('the lag waited out is capped: past the cap a stall is handled as a stall, and nobody is accused', () => {
    const h = localHealth(0, 60_000, cfg)
    assert.equal(h.lagMs, tol * cfg.awarenessMax)
    assert.equal(
      mayAccuse(cfg.probeTimeoutMs * cfg.awarenessMax, h),
      false,
      'not even at the largest stretch',
    )
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
    assert.equal(a.accuses(a.scale(cfg.probeTimeoutMs)), true)
    assert.equal(a.accuses(cfg.probeTimeoutMs), false)
    a.apply(-1)
    assert.equal(a.value, 2, 'the lag floor holds while it is measured')
    a.at(cfg.lagWindowMs + 1)
    assert.equal(a.value, 0)
    assert.equal(a.accuses(cfg.probeTimeoutMs), true)
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

/** Pings `a` sent to `t` in these effects. */
const pingsToT = (effects: SwimEffect<Rec>[]): number =>
  effects.filter((e) => e.kind === 'send' && e.to === 't' && e.msg.t === 'ping').length

describe('a lagging prober (SWIM machine)', () => {
  it('a probe started before the lag showed accuses nobody; the stretched ones after it do', () => {
    const { a, take } = proberWithSilentTarget()
    let now = 0
    // No lag until a probe of t is under way (unstretched: 200 ms to answer)…
    for (; ; now += 10) {
      const effects = a.tick(now)
      take(effects, now)
      if (pingsToT(effects) > 0) break
    }
    // …then the loop falls 3 tolerances behind before that probe's period ends.
    const lag = 3 * tol
    const end = now + 2 * cfg.probeIntervalMs
    for (now += 10; now < end; now += 10) {
      a.observeLag(lag, now)
      take(a.tick(now), now)
    }
    assert.equal(a.table.get('t')?.state, 'alive', 'the probe that waited less than the lag accuses nobody')
    // Still lagging as much: the probes started now wait the lag out, and t's silence counts.
    const deadline = now + 20 * cfg.probeIntervalMs * cfg.awarenessMax
    for (; now < deadline && a.table.get('t')?.state === 'alive'; now += 10) {
      a.observeLag(lag, now)
      take(a.tick(now), now)
    }
    assert.equal(a.table.get('t')?.state, 'suspect', 'suspected while the loop still lags')
    assert.ok(a.health >= 3, `health ${a.health}`)
  })

  it('a lag past what the largest stretch covers silences it until the loop catches up', () => {
    const { a, take } = proberWithSilentTarget()
    let now = 0
    const lag = cfg.probeTimeoutMs * cfg.awarenessMax + 100
    for (; now < 20 * cfg.probeIntervalMs * cfg.awarenessMax; now += 10) {
      a.observeLag(lag, now)
      take(a.tick(now), now)
    }
    assert.equal(a.table.get('t')?.state, 'alive', 'no suspicion while lagging past the cap')
    assert.equal(a.health, cfg.awarenessMax - 1)
    // The loop catches up; after the window t's silence counts again.
    const deadline = now + cfg.lagWindowMs + 40 * cfg.probeIntervalMs
    for (; now < deadline && a.table.get('t')?.state === 'alive'; now += 10) {
      a.observeLag(1, now)
      take(a.tick(now), now)
    }
    assert.notEqual(a.table.get('t')?.state, 'alive', 'suspected once the lag is over')
  })
})
