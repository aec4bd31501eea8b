import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { abandonedLabels, decideHolding, type HoldingInput } from '../../../../agent/release/holding.js'
import { setCurrent, wantedIds } from '../../../../control/releases/records.js'

// What a node does with its store and downloads after a read of the records: every
// transfer either finishes or is abandoned cleanly (its partial copy removed, no longer
// offered); nothing half-held is left behind, and nothing still wanted is dropped.

const set = (...xs: string[]) => new Set(xs)
const input = (o: Partial<HoldingInput>): HoldingInput => ({
  wanted: set(),
  keep: set(),
  published: set(),
  held: [],
  downloading: set(),
  ...o,
})

describe('what a node holds and fetches (decideHolding)', () => {
  it('a wanted release not held, or held part-way with no download, is fetched; a running one goes on', () => {
    const x = input({
      wanted: set('a', 'b', 'c'),
      keep: set('a', 'b', 'c'),
      published: set('a', 'b', 'c'),
      held: [
        { id: 'b', complete: false },
        { id: 'c', complete: false },
      ],
      downloading: set('c'),
    })
    assert.deepEqual(decideHolding(x), [
      { kind: 'fetch', id: 'a' },
      { kind: 'fetch', id: 'b' },
      { kind: 'fetch', id: 'c' },
    ])
  })

  it('a complete download stops and the release stays', () => {
    const x = input({
      wanted: set('a'),
      keep: set('a'),
      published: set('a'),
      held: [{ id: 'a', complete: true }],
      downloading: set('a'),
    })
    assert.deepEqual(decideHolding(x), [{ kind: 'stop', id: 'a' }])
  })

  it('a release the cluster gave up: part-way, its copy is abandoned (stopped or not); complete, it stays', () => {
    const x = input({
      wanted: set('new'),
      keep: set('new', 'cur'),
      published: set('new', 'cur', 'old1', 'old2', 'old3'),
      held: [
        { id: 'cur', complete: true },
        { id: 'new', complete: true },
        { id: 'old1', complete: false },
        { id: 'old2', complete: false },
        { id: 'old3', complete: true },
      ],
      downloading: set('old1'),
    })
    assert.deepEqual(decideHolding(x), [
      { kind: 'abandon', id: 'old1' },
      { kind: 'abandon', id: 'old2' },
    ])
    // Each is counted (homecloud_release_abandoned_total) by how much of it was held;
    // a whole one is counted when it is removed for room (store.test).
    assert.deepEqual(abandonedLabels(false), { held: 'part' })
    assert.deepEqual(abandonedLabels(true), { held: 'whole' })
  })

  it("an admin's upload in progress (not published yet) and a kept partial are left alone", () => {
    const x = input({
      wanted: set(),
      keep: set('cur'),
      published: set('cur'),
      held: [
        { id: 'upload', complete: false },
        { id: 'cur', complete: false },
      ],
    })
    assert.deepEqual(decideHolding(x), [])
  })

  it('two releases published together: the node fetching the first goes on when the second arrives', () => {
    const cur = setCurrent(null, 'c1', 'amd64', { id: '1'.repeat(64), version: '1' }, 'x', 10)
    const v1 = { id: '1'.repeat(64), arch: 'amd64' as const, publishedAtMs: 5 }
    const a = { id: 'a'.repeat(64), arch: 'amd64' as const, publishedAtMs: 100 }
    const b = { id: 'b'.repeat(64), arch: 'amd64' as const, publishedAtMs: 101 }
    const wanted = wantedIds([v1, a, b], cur)
    const x = input({
      wanted,
      keep: wanted,
      published: set(v1.id, a.id, b.id),
      held: [
        { id: v1.id, complete: true },
        { id: a.id, complete: false },
      ],
      downloading: set(a.id),
    })
    assert.deepEqual(decideHolding(x), [
      { kind: 'fetch', id: a.id },
      { kind: 'fetch', id: b.id },
    ])
  })
})
