import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { foldSuccessors, type MachineClaim } from '../../../../agent/mesh/successors.js'

const mac = '52:54:00:5e:00:07'
const node = (id: string, o: Partial<MachineClaim> = {}): MachineClaim => ({
  id,
  name: 'pxe-5e0007',
  alive: false,
  startedAtMs: 1000,
  ramOnly: true,
  macs: [mac],
  ...o,
})

describe('foldSuccessors: a netbooted machine booted again is one member', () => {
  it('folds the dead former members into the alive one with the same name and MAC', () => {
    const out = foldSuccessors([
      node('old1', { startedAtMs: 1 }),
      node('old2', { startedAtMs: 2 }),
      node('new', { alive: true, startedAtMs: 3 }),
      node('other', { name: 'n1', ramOnly: undefined, macs: [], alive: true }),
    ])
    assert.deepEqual(
      out.map((n) => [n.id, n.formerIds ?? []]),
      [
        ['new', ['old1', 'old2']],
        ['other', []],
      ],
    )
  })

  it('folds nothing when trust rules say no: alive claimants, a disk node, another name, two heirs, an older heir', () => {
    const cases: MachineClaim[][] = [
      // Two alive members claim the MAC: neither replaces the other.
      [node('a', { alive: true }), node('b', { alive: true })],
      // A node with a state disk keeps its id across reboots: its dead record is never replaced.
      [node('disk', { ramOnly: undefined }), node('new', { alive: true })],
      // Another name (another machine) or no common MAC.
      [node('old'), node('new', { alive: true, name: 'pxe-000001' })],
      [node('old'), node('new', { alive: true, macs: ['52:54:00:00:00:01'] })],
      // Two alive heirs: ambiguous (a forged MAC beside the real machine), nothing follows.
      [node('old'), node('h1', { alive: true }), node('h2', { alive: true })],
      // An heir that started before the dead member cannot be its next boot.
      [node('old', { startedAtMs: 5000 }), node('new', { alive: true, startedAtMs: 10 })],
    ]
    for (const c of cases) {
      const out = foldSuccessors(c)
      assert.equal(out.length, c.length, JSON.stringify(c.map((n) => n.id)))
      assert.ok(out.every((n) => !n.formerIds))
    }
  })
})
