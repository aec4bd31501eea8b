import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type CurrentBody,
  candidatesPerArchMax,
  type PublishedInfo,
  setCurrent,
  wantedIds,
} from '../../../../control/releases/records.js'
import { newRollout, pinnedTargets, type RolloutBody } from '../../../../control/rollout/record.js'

// What every node fetches and keeps (wantedIds) while releases are published and rolled
// out. The bug this pins: two releases published at once, and the first stopped being
// wanted the moment the second's record was read — every node but its origin abandoned
// it part-way (the rollout lab saw it stall at 10-15 of 20 pieces). A release stays
// wanted until a rollout moves current past it, or newer candidates push it out.

const id = (c: string) => c.repeat(64)
const amd = (c: string, publishedAtMs: number): PublishedInfo => ({ id: id(c), arch: 'amd64', publishedAtMs })
const arm = (c: string, publishedAtMs: number): PublishedInfo => ({ id: id(c), arch: 'arm64', publishedAtMs })
const sorted = (s: Set<string>) => [...s].sort()
const ids = (...cs: string[]) => cs.map(id).sort()
const moved = (prev: CurrentBody | null, c: string, atMs: number, arch: 'amd64' | 'arm64' = 'amd64') =>
  setCurrent(prev, 'c1', arch, { id: id(c), version: c }, 'test', atMs) ?? prev

/** The wanted sets a node computes as the records arrive, one read after another. */
function reads(steps: { published: PublishedInfo[]; current: CurrentBody | null }[]): string[][] {
  return steps.map((s) => sorted(wantedIds(s.published, s.current)))
}

describe('what every node fetches and keeps (wantedIds)', () => {
  it('two releases published together after the current one: both stay wanted, read after read', () => {
    const v1 = moved(null, '1', 10)
    const [a, b] = [amd('a', 100), amd('b', 101)]
    const seen = reads([
      { published: [amd('1', 5)], current: v1 },
      { published: [amd('1', 5), a], current: v1 },
      { published: [amd('1', 5), a, b], current: v1 },
    ])
    assert.deepEqual(seen, [ids('1'), ids('1', 'a'), ids('1', 'a', 'b')])
  })

  it('no current yet, two published together, then first-publish makes the first current: neither is dropped', () => {
    const [a, b] = [amd('a', 100), amd('b', 101)]
    // The signer sets current a moment after both records were written.
    const seen = reads([
      { published: [a], current: null },
      { published: [a, b], current: null },
      { published: [a, b], current: moved(null, 'a', 2_000) },
    ])
    assert.deepEqual(seen, [ids('a'), ids('a', 'b'), ids('a', 'b')])
  })

  it('a release published while a rollout ran stays wanted when the rollout makes an older one current', () => {
    const v1 = moved(null, '1', 10)
    const published = [amd('1', 5), amd('a', 100), amd('b', 101), amd('c', 500)]
    // The rollout to b completes at 900, after c was published at 500.
    const done = moved(v1, 'b', 900)
    assert.deepEqual(sorted(wantedIds(published, v1)), ids('1', 'b', 'c'))
    assert.deepEqual(sorted(wantedIds(published, done)), ids('1', 'b', 'c'))
  })

  it(`past ${candidatesPerArchMax} candidates the oldest is given up, the same way on every node`, () => {
    const v1 = moved(null, '1', 10)
    const published = [amd('1', 5), amd('a', 100), amd('b', 101), amd('c', 102)]
    assert.equal(candidatesPerArchMax, 2)
    assert.deepEqual(sorted(wantedIds(published, v1)), ids('1', 'b', 'c'))
    // The order of the records read does not matter; a tie in time is broken by id.
    assert.deepEqual(sorted(wantedIds([...published].reverse(), v1)), ids('1', 'b', 'c'))
    const tie = [amd('1', 5), amd('b', 100), amd('a', 100), amd('c', 100)]
    assert.deepEqual(sorted(wantedIds(tie, v1)), ids('1', 'b', 'c'))
    assert.deepEqual(sorted(wantedIds(tie.slice(1), null)), ids('a', 'b', 'c'))
  })

  it('architectures count apart; current and previous are kept, releases older than current are not', () => {
    const cur = moved(moved(moved(null, '1', 10), '2', 20), 'x', 30, 'arm64')
    const published = [amd('0', 1), amd('1', 5), amd('2', 15), amd('a', 40), arm('x', 25), arm('y', 26)]
    assert.deepEqual(sorted(wantedIds(published, cur)), ids('1', '2', 'a', 'x', 'y'))
  })

  it('after a rollback the newer releases are candidates again; a current release with no record counts from when it was set', () => {
    const back = moved(moved(moved(null, '1', 10), '2', 20), '1', 30)
    const published = [amd('1', 5), amd('2', 15), amd('3', 16)]
    assert.deepEqual(sorted(wantedIds(published, back)), ids('1', '2', '3'))
    const unknown = moved(null, 'z', 50)
    assert.deepEqual(sorted(wantedIds([amd('a', 40), amd('b', 60)], unknown)), ids('b'))
  })

  describe('while a rollout installs a release', () => {
    const v1 = moved(null, '1', 10)
    // The rollout to b started; then an admin published c and d, newer than b.
    const published = [amd('1', 5), amd('a', 100), amd('b', 101), amd('c', 500), amd('d', 501)]
    const toB = newRollout(null, {
      clusterId: 'c1',
      target: { version: 'b', releases: { amd64: { id: id('b'), version: 'b' } } },
      canary: 0,
      nowMs: 200,
      retryBad: false,
    })
    const as = (phase: RolloutBody['phase'], more: Partial<RolloutBody> = {}) => ({ ...toB, phase, ...more })
    const node = { node: 'n1', name: 'n1', arch: 'amd64' as const, step: 'install' as const }
    const inProgress = { ...node, startedAtMs: 300, stepSinceMs: 300 }

    it('its target stays wanted though two newer releases were published, on every node alike', () => {
      assert.deepEqual(sorted(wantedIds(published, v1)), ids('1', 'c', 'd'), 'without the pin b is given up')
      for (const r of [as('running'), as('paused'), as('aborted', { current: inProgress })]) {
        assert.deepEqual(sorted(wantedIds(published, v1, pinnedTargets(r))), ids('1', 'b', 'c', 'd'), r.phase)
        const shuffled = [...published].reverse()
        assert.deepEqual(sorted(wantedIds(shuffled, v1, pinnedTargets(r))), ids('1', 'b', 'c', 'd'))
      }
    })

    it('once the rollout ends the target is given up like any other candidate (or kept as current)', () => {
      assert.deepEqual(pinnedTargets(as('aborted')), [])
      assert.deepEqual(sorted(wantedIds(published, v1, pinnedTargets(as('aborted')))), ids('1', 'c', 'd'))
      const done = moved(v1, 'b', 900)
      assert.deepEqual(pinnedTargets(as('completed')), [])
      assert.deepEqual(
        sorted(wantedIds(published, done, pinnedTargets(as('completed')))),
        ids('1', 'b', 'c', 'd'),
      )
      assert.deepEqual(pinnedTargets(null), [])
    })

    it('a halted rollout, or a target marked bad, pins nothing; a pin with no published record is not wanted', () => {
      const bad = [{ id: id('b'), version: 'b', node: 'n1', reason: 'gate failed', atMs: 400 }]
      const halted = as('halted', { bad, current: { ...inProgress, step: 'revert' } })
      assert.deepEqual(pinnedTargets(halted), [])
      assert.deepEqual(sorted(wantedIds(published, v1, pinnedTargets(halted))), ids('1', 'c', 'd'))
      assert.deepEqual(pinnedTargets(as('running', { bad })), [])
      assert.deepEqual(sorted(wantedIds(published, v1, [id('z')])), ids('1', 'c', 'd'))
    })
  })
})
