import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  emptyGrubBook,
  GRUB_VARS,
  grubBookFor,
  grubEnvFor,
  initialGrubEnv,
  settleGrub,
} from '../../../../agent/slots/grub-state.js'
import { renderGrubEnv } from '../../../../agent/slots/grubenv.js'
import { boot, install, provisionedBootState, tryNext } from '../../../../agent/slots/tries.js'
import type { BootState, SlotContent } from '../../../../agent/slots/types.js'

const rel = (n: number): SlotContent => ({
  releaseId: n.toString(16).padStart(64, '0'),
  version: `0.${n}.0`,
  installedAtMs: n,
})

describe('BootState ↔ grubenv', () => {
  it('a freshly written disk: slot a good, nothing tried, every name GRUB reads present', () => {
    const env = initialGrubEnv('a')
    assert.deepEqual(Object.keys(env), [...GRUB_VARS])
    const s = settleGrub({ env, slots: { a: rel(1), b: null }, book: emptyGrubBook() }, 0)
    assert.deepEqual(s.state, provisionedBootState(rel(1)))
    assert.equal(s.envChanges, null)
    assert.deepEqual(initialGrubEnv('a', { slot: 'b', tries: 2 }).hc_trying, 'b')
  })

  it('round-trips every state the agent writes (grubEnvFor + book → settleGrub)', () => {
    let s = boot(provisionedBootState(rel(1)), 0).state
    const installed = install(s, rel(2))
    assert.ok(installed.ok)
    const tried = tryNext(installed.state, 3)
    assert.ok(tried.ok)
    s = {
      ...tried.state,
      boots: 9,
      lastFallback: { slot: 'b', releaseId: rel(5).releaseId, version: '0.5.0', reason: 'asked', atMs: 4 },
    }
    const env = { ...grubEnvFor(s), hc_booted: s.booted ?? '', hc_fallback: '', hc_marks: '' }
    renderGrubEnv(env)
    const back = settleGrub({ env, slots: s.slots, book: grubBookFor(s) }, 77)
    assert.deepEqual(back.state, s)
  })

  it("the agent never writes hc_booted, hc_fallback or hc_marks: they are GRUB's", () => {
    const s: BootState = { ...provisionedBootState(rel(1)), booted: 'a' }
    assert.deepEqual(Object.keys(grubEnvFor(s)), ['hc_good', 'hc_trying', 'hc_tries'])
  })

  it("folds GRUB's marks into boots and its fallback into lastFallback, and says what to clear", () => {
    const slots = { a: rel(1), b: rel(2) }
    const env = {
      hc_good: 'a',
      hc_trying: '',
      hc_tries: '0',
      hc_booted: 'a',
      hc_fallback: 'b',
      hc_marks: 'xxx',
    }
    const r = settleGrub({ env, slots, book: { v: 1, boots: 10, lastFallback: null } }, 500)
    assert.equal(r.state.boots, 13)
    assert.deepEqual(r.book, { v: 1, boots: 13, lastFallback: r.state.lastFallback })
    assert.deepEqual(r.state.lastFallback, {
      slot: 'b',
      releaseId: rel(2).releaseId,
      version: '0.2.0',
      reason: 'tries-exhausted',
      atMs: 500,
    })
    assert.deepEqual(r.envChanges, { hc_marks: '', hc_fallback: '' })
  })

  it('reads names it did not write (hand-edited or damaged) as nothing, never as a slot or a huge count', () => {
    const env = {
      hc_good: 'c',
      hc_trying: 'A',
      hc_tries: '99',
      hc_booted: '',
      hc_fallback: 'zz',
      hc_marks: '',
    }
    const r = settleGrub({ env, slots: { a: rel(1), b: null }, book: emptyGrubBook() }, 0)
    assert.equal(r.state.good, null)
    assert.equal(r.state.trying, null)
    assert.equal(r.state.triesLeft, 0)
    assert.equal(r.state.lastFallback, null)
    const neg = settleGrub(
      { env: { ...env, hc_tries: '-1' }, slots: { a: null, b: null }, book: emptyGrubBook() },
      0,
    )
    assert.equal(neg.state.triesLeft, 0)
    const missing = settleGrub({ env: {}, slots: { a: null, b: null }, book: emptyGrubBook() }, 0)
    assert.equal(missing.state.triesLeft, 0)
    assert.equal(missing.envChanges, null)
  })
})
