import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { backoffDelayMs, failuresAfterCrash, restartPolicyDefault } from '../../../../agent/core/backoff.js'

const p = { ...restartPolicyDefault, jitter: 0 }

describe('backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 7, 8, 20].map((n) => backoffDelayMs(n, p, 0.5)),
      [500, 1000, 2000, 4000, 30_000, 30_000, 30_000],
    )
  })

  it('jitters within the fraction and never beyond the cap', () => {
    const q = { ...p, jitter: 0.2 }
    assert.equal(backoffDelayMs(1, q, 0), 400)
    assert.equal(backoffDelayMs(1, q, 0.999_999), 600)
    assert.equal(backoffDelayMs(30, q, 0.999_999), 30_000)
  })

  it('resets after a run long enough to count as healthy', () => {
    assert.equal(failuresAfterCrash(5, 200, p), 6)
    assert.equal(failuresAfterCrash(5, p.stableRunMs, p), 1)
  })
})
