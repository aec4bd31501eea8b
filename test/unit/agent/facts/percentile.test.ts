import assert from 'node:assert/strict'
import { test } from 'node:test'
import { percentile } from '../../../../agent/facts/percentile.js'

test('percentile of one sample is that sample', () => {
  assert.equal(percentile([7], 0), 7)
  assert.equal(percentile([7], 50), 7)
  assert.equal(percentile([7], 99), 7)
})

test('percentile uses nearest rank on unsorted input', () => {
  const xs = [5, 1, 4, 2, 3]
  assert.equal(percentile(xs, 0), 1)
  assert.equal(percentile(xs, 20), 1)
  assert.equal(percentile(xs, 21), 2)
  assert.equal(percentile(xs, 50), 3)
  assert.equal(percentile(xs, 100), 5)
})

test('p99 of 20 samples is the worst; p50 the 10th', () => {
  const xs = Array.from({ length: 20 }, (_, i) => 20 - i)
  assert.equal(percentile(xs, 99), 20)
  assert.equal(percentile(xs, 50), 10)
})

test('p99 of 1000 samples leaves out the worst ten', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1)
  assert.equal(percentile(xs, 99), 990)
})

test('percentile does not mutate its input', () => {
  const xs = [3, 1, 2]
  percentile(xs, 50)
  assert.deepEqual(xs, [3, 1, 2])
})

test('percentile rejects no samples and p outside 0..100', () => {
  assert.throws(() => percentile([], 50), /no samples/)
  assert.throws(() => percentile([1], 101), /outside/)
  assert.throws(() => percentile([1], -1), /outside/)
})
