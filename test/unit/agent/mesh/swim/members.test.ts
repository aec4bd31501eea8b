import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BroadcastQueue } from '../../../../../agent/mesh/swim/broadcasts.js'
import {
  DEFAULT_SWIM_CONFIG,
  retransmitLimit,
  suspicionBoundsMs,
  suspicionTimeoutMs,
} from '../../../../../agent/mesh/swim/config.js'
import { MemberTable } from '../../../../../agent/mesh/swim/members.js'
import type { Update } from '../../../../../agent/mesh/swim/types.js'

const rec = (id: string, incarnation: number, version = 1) => ({ id, incarnation, version, bytes: 600 })

describe('SWIM member table: precedence', () => {
  it('at one incarnation alive < suspect < dead; only a higher incarnation overrules', () => {
    const t = new MemberTable<ReturnType<typeof rec>>(16)
    const r1 = rec('x', 1)
    assert.equal(t.applyAlive(r1, r1, 0).kind, 'changed')
    assert.equal(t.applySuspect('x', 1, 1).kind, 'changed')
    assert.equal(t.applySuspect('x', 1, 2).kind, 'already-suspect')
    // Same incarnation, newer content: the record updates, the suspicion stays.
    const r1b = rec('x', 1, 2)
    assert.deepEqual(t.applyAlive(r1b, r1b, 3), {
      kind: 'changed',
      event: { kind: 'updated', id: 'x', incarnation: 1 },
    })
    assert.equal(t.get('x')?.state, 'suspect')
    assert.equal(t.applyDead('x', 1, 4).kind, 'changed')
    assert.equal(t.get('x')?.deadIncarnation, 1)
    // Old news cannot resurrect it, not even a newer version of the same incarnation.
    const r1c = rec('x', 1, 3)
    assert.equal(t.applyAlive(r1c, r1c, 5).kind, 'ignored')
    assert.equal(t.applySuspect('x', 1, 5).kind, 'ignored')
    // The member itself can: it comes back higher.
    const r2 = rec('x', 2)
    assert.deepEqual(t.applyAlive(r2, r2, 6), {
      kind: 'changed',
      event: { kind: 'rejoined', id: 'x', incarnation: 2 },
    })
    assert.equal(t.liveCount(), 1)
  })

  it('a claim about a higher incarnation than the record we hold still counts', () => {
    const t = new MemberTable<ReturnType<typeof rec>>(16)
    const r = rec('x', 1)
    t.applyAlive(r, r, 0)
    assert.equal(t.applySuspect('x', 3, 1).kind, 'changed')
    const r2 = rec('x', 2)
    assert.equal(t.applyAlive(r2, r2, 2).kind, 'changed', 'newer content is kept')
    assert.equal(t.get('x')?.state, 'suspect', 'but incarnation 2 does not answer a suspicion at 3')
  })

  it('is bounded: the longest dead make room, else newcomers are refused', () => {
    const t = new MemberTable<ReturnType<typeof rec>>(2)
    for (const id of ['a', 'b']) t.applyAlive(rec(id, 1), rec(id, 1), 0)
    assert.deepEqual(t.applyAlive(rec('c', 1), rec('c', 1), 1), { kind: 'ignored', reason: 'table-full' })
    t.applyDead('a', 1, 2)
    assert.equal(t.applyAlive(rec('c', 1), rec('c', 1), 3).kind, 'changed')
    assert.equal(t.get('a'), undefined)
  })
})

describe('SWIM timings', () => {
  it('suspicion grows with log n and shrinks with confirmations down to its minimum', () => {
    const small = suspicionBoundsMs(DEFAULT_SWIM_CONFIG, 5)
    const big = suspicionBoundsMs(DEFAULT_SWIM_CONFIG, 1000)
    assert.ok(big.minMs > small.minMs)
    assert.equal(big.minMs, 3 * small.minMs, 'log10(1000) = 3 × the floor of 1')
    assert.equal(suspicionTimeoutMs(small, 0, 3), small.maxMs)
    assert.ok(suspicionTimeoutMs(small, 1, 3) < small.maxMs)
    assert.equal(suspicionTimeoutMs(small, 3, 3), small.minMs)
    assert.equal(suspicionTimeoutMs(small, 9, 3), small.minMs)
  })

  it('each update is sent a number of times growing with log n', () => {
    assert.equal(retransmitLimit(DEFAULT_SWIM_CONFIG, 5), 4)
    assert.equal(retransmitLimit(DEFAULT_SWIM_CONFIG, 200), 12)
    assert.equal(retransmitLimit(DEFAULT_SWIM_CONFIG, 1000), 16)
  })
})

describe('SWIM broadcast queue', () => {
  const claim = (id: string): Update<unknown> => ({ kind: 'suspect', id, incarnation: 1, from: 'z' })

  it('sends urgent news first, each update a bounded number of times, newer news replacing older', () => {
    const q = new BroadcastQueue<unknown>(100)
    q.enqueue('a', { kind: 'have', id: 'a', incarnation: 1, version: 1 }, 50, 1)
    q.enqueue('b', claim('b'), 50, 0)
    assert.deepEqual(
      q.take(60, 2).map((u) => u.kind),
      ['suspect'],
      'the claim first, and only what fits',
    )
    q.enqueue('b', { kind: 'dead', id: 'b', incarnation: 1, from: 'z' }, 50, 0)
    assert.equal(q.size, 2, 'the death replaced the suspicion')
    assert.deepEqual(
      q.take(1000, 2).map((u) => u.kind),
      ['dead', 'have'],
    )
    assert.deepEqual(
      q.take(1000, 2).map((u) => u.kind),
      ['dead', 'have'],
    )
    assert.equal(q.size, 0, 'both were sent twice, the limit')
  })

  it('is bounded: past the limit the most-sent update goes', () => {
    const q = new BroadcastQueue<unknown>(2)
    q.enqueue('a', claim('a'), 10)
    q.take(10, 5)
    q.enqueue('b', claim('b'), 10)
    q.enqueue('c', claim('c'), 10)
    assert.equal(q.size, 2)
    assert.deepEqual(
      q.take(100, 5).map((u) => (u.kind === 'suspect' ? u.id : '?')),
      ['b', 'c'],
    )
  })
})
