import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { seededRandom } from '../../../../agent/core/random.js'
import { readBootStateFile, writeBootStateFile } from '../../../../agent/slots/state-file.js'
import {
  boot,
  emptyBootState,
  fallBack,
  inactiveSlot,
  install,
  markGood,
  provisionedBootState,
  type SlotsStep,
  slotReport,
  stepOrThrow,
  tryNext,
} from '../../../../agent/slots/tries.js'
import {
  type BootState,
  BootState as BootStateSchema,
  type SlotContent,
} from '../../../../agent/slots/types.js'

const rel = (n: number): SlotContent => ({
  releaseId: n.toString(16).padStart(64, '0'),
  version: `0.${n}.0`,
  installedAtMs: n,
})
const ok = (r: SlotsStep): BootState => {
  assert.ok(r.ok, r.ok ? '' : r.error)
  return r.state
}

/** v1 in a, booted and good. */
function running(): BootState {
  return boot(provisionedBootState(rel(1)), 0).state
}

describe('boot slots: try counting', () => {
  it('a provisioned machine boots its good slot', () => {
    const b = boot(provisionedBootState(rel(1)), 0)
    assert.equal(b.slot, 'a')
    assert.equal(b.mode, 'good')
    assert.equal(b.state.boots, 1)
    assert.equal(slotReport(b.state, 'lab', 'amd64').committed, true)
  })

  it('an empty machine has nothing to boot', () => {
    const b = boot(emptyBootState(), 0)
    assert.equal(b.slot, null)
    assert.equal(b.mode, 'none')
  })

  it('install writes the inactive slot; tryNext boots it; markGood commits it', () => {
    let s = ok(install(running(), rel(2)))
    assert.deepEqual(s.slots.b, rel(2))
    s = ok(tryNext(s, 3))
    assert.equal(s.trying, 'b')
    const b = boot(s, 10)
    assert.equal(b.slot, 'b')
    assert.equal(b.mode, 'trying')
    assert.equal(b.state.triesLeft, 2)
    const r = slotReport(b.state, 'lab', 'amd64')
    assert.equal(r.committed, false)
    assert.deepEqual(r.bootedRelease, rel(2))
    s = ok(markGood(b.state))
    assert.equal(s.good, 'b')
    assert.equal(s.trying, null)
    assert.equal(slotReport(s, 'lab', 'amd64').committed, true)
    // Committed: later boots stay on b.
    assert.equal(boot(s, 20).slot, 'b')
  })

  it('a tried slot that is never committed falls back after its tries, by itself', () => {
    let s = ok(tryNext(ok(install(running(), rel(2))), 2))
    const seen: string[] = []
    for (let i = 0; i < 4; i++) {
      const b = boot(s, 100 + i)
      seen.push(`${b.slot}:${b.mode}`)
      s = b.state
    }
    assert.deepEqual(seen, ['b:trying', 'b:trying', 'a:fallback', 'a:good'])
    assert.deepEqual(s.lastFallback, {
      slot: 'b',
      releaseId: rel(2).releaseId,
      version: '0.2.0',
      reason: 'tries-exhausted',
      atMs: 102,
    })
    assert.equal(s.good, 'a')
    // The bad slot can no longer be committed: it is not being tried.
    assert.equal(markGood(s).ok, true, 'a is booted and good: marking it good again is a no-op')
  })

  it('install resets a leftover try counter, so it never forces a fallback', () => {
    // A try was asked and used up to 0 (the machine then booted b and died), then the
    // node came back on a after the fallback, and a new release is installed.
    let s = ok(tryNext(ok(install(running(), rel(2))), 1))
    s = boot(s, 1).state // b, tries 0
    s = boot(s, 2).state // fallback to a
    s = ok(install(s, rel(3)))
    assert.equal(s.trying, null)
    assert.equal(s.triesLeft, 0)
    assert.equal(boot(s, 3).mode, 'good', 'no try left over from before')
    // Installing while a try is pending (not booted yet) cancels the try too.
    s = ok(tryNext(s, 3))
    s = ok(install(s, rel(4)))
    assert.equal(s.trying, null)
    assert.equal(boot(s, 4).slot, 'a')
  })

  it('refuses: tryNext with nothing installed, tries out of range, install over a booted uncommitted slot', () => {
    assert.equal(tryNext(running(), 3).ok, false)
    const s = ok(install(running(), rel(2)))
    assert.equal(tryNext(s, 0).ok, false)
    assert.equal(tryNext(s, 11).ok, false)
    assert.equal(tryNext(s, 1.5).ok, false)
    const booted = boot(ok(tryNext(s, 2)), 5).state // b booted, a good
    assert.equal(inactiveSlot(booted), null)
    const r = install(booted, rel(3))
    assert.equal(r.ok, false)
    assert.throws(
      () => stepOrThrow(r, 'install'),
      (e: unknown) => e instanceof HomecloudError && e.code === 'SLOT_REFUSED',
    )
  })

  it('markGood refuses a slot that ran out of tries and is not good', () => {
    // Booted b on its last try, then the try was forgotten by fallBack: b runs, uncommitted.
    const s = boot(ok(tryNext(ok(install(running(), rel(2))), 1)), 1).state
    const f = fallBack(s, 2)
    assert.equal(f.needsReboot, true)
    assert.equal(f.state.lastFallback?.reason, 'asked')
    assert.equal(markGood(f.state).ok, false)
    assert.equal(boot(f.state, 3).slot, 'a')
  })

  it('fallBack before the reboot just cancels the try', () => {
    const s = ok(tryNext(ok(install(running(), rel(2))), 2))
    const f = fallBack(s, 9)
    assert.equal(f.needsReboot, false)
    assert.equal(f.state.trying, null)
    assert.equal(boot(f.state, 10).slot, 'a')
  })

  it('a seeded random walk never boots an uncommitted slot more than its tries, and always has a slot', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = seededRandom(seed)
      let s = running()
      let n = 2
      let asked = 0
      let bootsOfTried = 0
      for (let i = 0; i < 60; i++) {
        const x = random.next()
        if (x < 0.2) {
          const r = install(s, rel(n++))
          if (r.ok) {
            s = r.state
            asked = 0
            bootsOfTried = 0
          }
        } else if (x < 0.35) {
          const tries = 1 + Math.floor(random.next() * 3)
          const r = tryNext(s, tries)
          if (r.ok) {
            s = r.state
            asked = tries
            bootsOfTried = 0
          }
        } else if (x < 0.75) {
          const b = boot(s, i)
          assert.ok(b.slot, `seed ${seed}: a machine with a good slot always boots`)
          if (b.mode === 'trying') bootsOfTried++
          assert.ok(bootsOfTried <= asked, `seed ${seed}: tried ${bootsOfTried} times, allowed ${asked}`)
          s = b.state
        } else if (x < 0.9) {
          const r = markGood(s)
          if (r.ok) s = r.state
        } else s = fallBack(s, i).state
        BootStateSchema.parse(s)
        assert.ok(s.good && s.slots[s.good], `seed ${seed}: the good slot always holds a release`)
      }
    }
  })
})

describe('boot slots: state file', () => {
  it('round-trips, and a corrupt file is SLOT_FAILED naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slots-'))
    try {
      const path = join(dir, 'boot.json')
      assert.equal(await readBootStateFile(path), null)
      const s = running()
      await writeBootStateFile(path, s)
      assert.deepEqual(await readBootStateFile(path), s)
      await writeFile(path, '{"v":1,"slots":')
      await assert.rejects(
        readBootStateFile(path),
        (e: unknown) => e instanceof HomecloudError && e.code === 'SLOT_FAILED' && e.message.includes(path),
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
