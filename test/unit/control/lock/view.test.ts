import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LockRecord } from '../../../../control/lock/record.js'
import { lockView } from '../../../../control/lock/view.js'

const key = (holder: string, operation: LockRecord['operation'], node: string): LockRecord => ({
  v: 1,
  holder,
  operation,
  node,
  sinceMs: 1000,
  lease: 'abc',
})
const hold = { node: 'pi5-2', step: 'reboot', sinceMs: 500 }

describe('lockView: what status says about the cluster lock', () => {
  it('free, or held by whoever holds the key, when no rollout holds a node', () => {
    assert.deepEqual(lockView(undefined, null, 5000), { key: null, hold: null, summary: 'free' })
    const v = lockView(key('cli:h:1', 'drain', 'w1'), null, 31_000)
    assert.equal(v.summary, 'held by cli:h:1 (drain of w1, for 30 s)')
    assert.deepEqual(v.key, { holder: 'cli:h:1', operation: 'drain', node: 'w1', sinceMs: 1000 })
  })

  it('a key that lapsed under the rollout’s hold is not "free": the hold is named, and what it refuses', () => {
    // The coordinator restarted into its own new release: its key went with it, the record holds.
    const v = lockView(undefined, hold, 5000)
    assert.equal(v.key, null)
    assert.deepEqual(v.hold, hold)
    assert.match(
      v.summary,
      /^held by the rollout for pi5-2 \(step reboot\): its key is free while no coordinator/,
    )
    assert.match(
      v.summary,
      /every other drain, undrain or shutdown waits until pi5-2 is back, committed and uncordoned/,
    )
    assert.doesNotMatch(v.summary, /^free/)
  })

  it('the rollout’s own key for its node: one line; someone else’s key beside the hold is named too', () => {
    const own = lockView(key('rollout:abc', 'upgrade', 'pi5-2'), hold, 5000)
    assert.match(own.summary, /^held by the rollout for pi5-2 \(step reboot\); every other/)
    const forced = lockView(key('cli:h:1', 'drain', 'w1'), hold, 5000)
    assert.match(
      forced.summary,
      /held by the rollout for pi5-2 \(step reboot\), and its key by cli:h:1 \(drain of w1/,
    )
  })

  it('an unreadable key is said so, never "free"', () => {
    assert.equal(lockView('unreadable', null, 5000).summary, 'held by an unreadable lock record')
  })
})
