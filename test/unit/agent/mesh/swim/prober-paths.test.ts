import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../../../../../agent/core/random.js'
import { DEFAULT_SWIM_CONFIG } from '../../../../../agent/mesh/swim/config.js'
import { Swim } from '../../../../../agent/mesh/swim/swim.js'
import type { SwimEffect } from '../../../../../agent/mesh/swim/types.js'
import type { Rec } from './harness.js'

const cfg = DEFAULT_SWIM_CONFIG
const rec = (id: string): Rec => ({ id, incarnation: 1, version: 1, bytes: 600 })

/**
 * Node a linked to b, c and t; t's last ack said t is linked to `tLinks`. Then a probes
 * until its probe of t goes indirect, t answering nothing. Returns what a sent to whom
 * from the moment the probe of t began.
 */
function probeSilentTarget(tLinks: string[]): { to: string; t: string }[] {
  const a = new Swim<Rec>(
    { selfId: 'a', config: cfg, self: rec('a') },
    { random: seededRandom(3), meta: (r) => r, resign: () => rec('a') },
  )
  for (const id of ['b', 'c', 't'])
    a.receive(id, { t: 'gossip', gossip: [{ kind: 'alive', record: rec(id) }] }, 0)
  a.setLinks(['b', 'c', 't'], 0)
  const sent: { to: string; t: string }[] = []
  let probingT = false
  const take = (effects: SwimEffect<Rec>[], now: number) => {
    for (const e of effects) {
      if (e.kind !== 'send') continue
      // Every probe of b and c is answered at once; t answered only its first ping (with its links).
      if (e.msg.t === 'ping' && e.to !== 't')
        take(a.receive(e.to, { t: 'ack', seq: e.msg.seq, links: [], gossip: [] }, now), now)
      if (e.msg.t === 'ping' && e.to === 't' && !probingT) {
        probingT = true
        take(a.receive('t', { t: 'ack', seq: e.msg.seq, links: tLinks, gossip: [] }, now), now)
        continue
      }
      if (probingT) sent.push({ to: e.to, t: e.msg.t })
    }
  }
  // t is probed once answered (learning its links), then again later without an answer.
  for (let now = 10; now <= 20 * cfg.probeIntervalMs; now += 10) {
    take(a.tick(now), now)
    if (sent.some((s) => s.t === 'ping-req')) break
  }
  return sent
}

describe('SWIM indirect probes over bounded links', () => {
  it('helpers that hold no link to the target are replaced by direct pings', () => {
    // t is linked to a only: neither b nor c can reach it.
    const sent = probeSilentTarget(['a'])
    const reqs = sent.filter((s) => s.t === 'ping-req').map((s) => s.to)
    assert.deepEqual(reqs.sort(), ['b', 'c'])
    const pings = sent.filter((s) => s.t === 'ping' && s.to === 't').length
    // The first ping, the second at the direct deadline, and one per missing path (k = 3).
    assert.equal(pings, 2 + cfg.indirectChecks, `${pings} pings to t`)
  })

  it('helpers linked to the target count as paths: fewer direct pings', () => {
    const sent = probeSilentTarget(['a', 'b', 'c'])
    const pings = sent.filter((s) => s.t === 'ping' && s.to === 't').length
    assert.equal(pings, 2 + cfg.indirectChecks - 2, `${pings} pings to t`)
  })
})
