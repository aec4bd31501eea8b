import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { labNames } from '../../../../lab/netns/names.js'
import { shapePlan } from '../../../../lab/netns/shape.js'

describe('lab link shaping', () => {
  it('limits both ends of a node veth with the same token bucket', () => {
    const n = labNames(7, 3)
    const plan = shapePlan(7, 3, 100)
    assert.equal(plan.length, 2)
    assert.deepEqual(plan[0]!.slice(0, 4), ['qdisc', 'replace', 'dev', n.hostVeth])
    assert.deepEqual(plan[1]!.slice(0, 6), ['-n', n.netns, 'qdisc', 'replace', 'dev', 'eth0'])
    for (const args of plan) {
      assert.equal(args[args.indexOf('rate') + 1], '100mbit')
      // 10 ms at 100 Mbit/s is 125 kB: more than the 64 KiB floor.
      assert.equal(args[args.indexOf('burst') + 1], '125000')
    }
    assert.equal(shapePlan(7, 3, 1)[0]![shapePlan(7, 3, 1)[0]!.indexOf('burst') + 1], String(64 * 1024))
  })

  it('refuses a rate that is not a positive number', () => {
    for (const bad of [0, -5, Number.NaN, 1e9]) assert.throws(() => shapePlan(7, 3, bad), /link rate/)
  })
})
