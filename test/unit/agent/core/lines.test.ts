import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LineSplitter, LogBudget, RecentLines } from '../../../../agent/core/lines.js'

describe('LineSplitter', () => {
  it('reassembles lines across chunks, including split UTF-8', () => {
    const s = new LineSplitter()
    const euro = Buffer.from('€')
    assert.deepEqual(s.push(Buffer.concat([Buffer.from('a\nb'), euro.subarray(0, 1)])), ['a'])
    assert.deepEqual(s.push(Buffer.concat([euro.subarray(1), Buffer.from('c\r\n\nd')])), ['b€c'])
    assert.deepEqual(s.flush(), ['d'])
    assert.deepEqual(s.flush(), [])
  })

  it('cuts an endless line and drops the rest of it', () => {
    const s = new LineSplitter(10)
    const out = [...s.push('x'.repeat(25)), ...s.push('y'.repeat(25)), ...s.push('\nnext\n')]
    assert.deepEqual(out, [`${'x'.repeat(10)}…[line cut]`, 'next'])
  })
})

describe('LogBudget', () => {
  it('allows a burst, then the refill rate, and counts what it drops', () => {
    const b = new LogBudget(10, 3)
    assert.deepEqual(
      [0, 0, 0, 0, 0].map((t) => b.allow(t)),
      [true, true, true, false, false],
    )
    assert.equal(b.takeDropped(), 2)
    assert.equal(b.takeDropped(), 0)
    assert.equal(b.allow(100), true, '100 ms at 10/s refills one')
    assert.equal(b.allow(100), false)
    assert.equal(b.allow(10_000), true)
  })
})

describe('RecentLines', () => {
  it('keeps only the last lines', () => {
    const r = new RecentLines(2)
    for (const l of ['a', 'b', 'c']) r.push(l)
    assert.deepEqual(r.all(), ['b', 'c'])
  })
})
