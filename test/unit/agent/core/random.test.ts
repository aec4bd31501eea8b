import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { randomBelow, seededRandom, systemRandom } from '../../../../agent/core/random.js'

describe('random sources', () => {
  it('a seed always gives the same sequence, in [0, 1)', () => {
    const a = seededRandom(42)
    const b = seededRandom(42)
    const xs = Array.from({ length: 1000 }, () => a.next())
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b.next()),
    )
    assert.ok(xs.every((x) => x >= 0 && x < 1))
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, seededRandom(43).next))
    assert.ok(new Set(xs).size > 990)
  })

  it('randomBelow stays in range and reaches both ends', () => {
    const r = seededRandom(1)
    const seen = new Set(Array.from({ length: 500 }, () => randomBelow(r, 5)))
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4])
    assert.equal(randomBelow({ next: () => 0.999_999_999_999 }, 3), 2)
    const s = systemRandom().next()
    assert.ok(s >= 0 && s < 1)
  })
})
