import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { seededRandom } from '../../../../agent/core/random.js'
import { PART } from '../../../../agent/slots/disk-layout.js'
import {
  fatVolumeUuid,
  renderAutobootTxt,
  renderSlotCmdline,
  renderSlotConfigTxt,
  slotFilesFor,
} from '../../../../agent/slots/rpi-files.js'
import { type RpiBook, rpiAtStart, rpiBeforeReboot, rpiTryNext } from '../../../../agent/slots/rpi-state.js'
import {
  boot,
  fallBack,
  install,
  markGood,
  provisionedBootState,
  tryNext,
} from '../../../../agent/slots/tries.js'
import type { BootState, SlotContent, SlotName } from '../../../../agent/slots/types.js'

const rel = (n: number): SlotContent => ({
  releaseId: n.toString(16).padStart(64, '0'),
  version: `0.${n}.0`,
  installedAtMs: n,
})

/** What the Pi's bootloader reads from autoboot.txt: the partition of [all] and of [tryboot]. */
function firmwareReads(autoboot: string): { all: SlotName; tryboot: SlotName } {
  const sections: Record<string, Record<string, string>> = {}
  let at = ''
  for (const line of autoboot.split('\n')) {
    const sec = /^\[(\w+)\]$/.exec(line)
    if (sec) at = sec[1] as string
    const kv = /^(\w+)=(\S+)$/.exec(line)
    if (kv) sections[at] = { ...sections[at], [kv[1] as string]: kv[2] as string }
  }
  assert.equal(sections.all?.tryboot_a_b, '1')
  const slotOf = (p: string | undefined): SlotName => {
    const slot = (['a', 'b'] as const).find((s) => String(PART[s]) === p)
    assert.ok(slot, `boot_partition=${p} is no slot`)
    return slot
  }
  return { all: slotOf(sections.all?.boot_partition), tryboot: slotOf(sections.tryboot?.boot_partition) }
}

describe('Raspberry Pi: autoboot.txt and tryboot', () => {
  it('autoboot.txt boots the good slot, and the tried one only on a tryboot reboot', () => {
    assert.deepEqual(firmwareReads(renderAutobootTxt({ good: 'a', trying: 'b' })), { all: 'a', tryboot: 'b' })
    assert.deepEqual(firmwareReads(renderAutobootTxt({ good: 'b', trying: 'a' })), { all: 'b', tryboot: 'a' })
    // Nothing tried: a stray tryboot changes nothing (and never boots a slot being written).
    assert.deepEqual(firmwareReads(renderAutobootTxt({ good: 'b', trying: null })), {
      all: 'b',
      tryboot: 'b',
    })
  })

  it('each slot says which it is on its command line (one line), with 64-bit config', () => {
    const line = renderSlotCmdline('b', fatVolumeUuid('1a2b3c4d'))
    assert.equal(line.split('\n').length, 2)
    assert.ok(line.endsWith('\n'))
    assert.match(line, / homecloud\.slot=b homecloud\.slotfs=1A2B-3C4D\n$/)
    assert.match(line, /homecloud\.firmware=rpi/)
    assert.match(line, /^console=tty0 console=ttyS1,115200 /)
    // A Pi 5 reads cmdline-pi5.txt (config.txt's [pi5]): the same slot, its debug UART.
    const pi5 = slotFilesFor('arm64', 'b', '1A2B-3C4D')['cmdline-pi5.txt'] ?? ''
    assert.match(pi5, /^console=tty0 console=ttyAMA10,115200 /)
    assert.equal(pi5.replace('ttyAMA10', 'ttyS1'), slotFilesFor('arm64', 'b', '1A2B-3C4D')['cmdline.txt'])
    assert.match(renderSlotConfigTxt(), /^arm_64bit=1$/m)
    assert.deepEqual(Object.keys(slotFilesFor('arm64', 'a', '1A2B-3C4D')).sort(), [
      'cmdline-pi5.txt',
      'cmdline.txt',
      'config.txt',
    ])
    assert.deepEqual(slotFilesFor('amd64', 'a', '1A2B-3C4D'), {})
    assert.throws(() => fatVolumeUuid('xyz'), /FAT volume id/)
  })

  it('tryNext honours one try, whatever was asked, and refuses what tries.ts refuses', () => {
    const s = install(boot(provisionedBootState(rel(1)), 0).state, rel(2))
    assert.ok(s.ok)
    for (const n of [1, 3, 10]) {
      const r = rpiTryNext(s.state, n)
      assert.ok(r.ok)
      assert.equal(r.state.triesLeft, 1)
      assert.deepEqual(r.state, (tryNext(s.state, 1) as { state: BootState }).state)
    }
    assert.equal(rpiTryNext(s.state, 0).ok, false)
    assert.equal(rpiTryNext(boot(provisionedBootState(rel(1)), 0).state, 1).ok, false)
  })

  it('a power cut after counting a tryboot, before the firmware saw it, falls back (boots counted twice, never lost)', () => {
    const installed = install(boot(provisionedBootState(rel(1)), 0).state, rel(2))
    assert.ok(installed.ok)
    const tried = rpiTryNext(installed.state, 3)
    assert.ok(tried.ok)
    const before = rpiBeforeReboot(tried.state, 10)
    assert.equal(before.tryboot, true)
    const start = rpiAtStart(before.book, 'a', 20)
    assert.equal(start.unexpected, false)
    assert.equal(start.book.state.booted, 'a')
    assert.equal(start.book.state.trying, null)
    assert.equal(start.book.state.lastFallback?.reason, 'tries-exhausted')
    assert.equal(start.book.state.boots, tried.state.boots + 2)
  })

  it('a seeded walk: the Pi (firmware + agent) boots what tries.ts with one try boots', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed)
      let model = boot(provisionedBootState(rel(1)), 0).state
      let book: RpiBook = { v: 1, state: model, precounted: false }
      let n = 2
      for (let i = 1; i <= 60; i++) {
        const x = random.next()
        const agent = (f: (s: BootState) => { ok: boolean; state?: BootState }, g = f) => {
          const r = f(book.state)
          const m = g(model)
          assert.equal(r.ok, m.ok, `seed ${seed} step ${i}`)
          if (r.state && m.state) {
            book = { ...book, state: r.state }
            model = m.state
          }
        }
        if (x < 0.2) {
          const content = rel(n++)
          agent((s) => install(s, content))
        } else if (x < 0.35)
          agent(
            (s) => rpiTryNext(s, 3),
            (s) => tryNext(s, 1),
          )
        else if (x < 0.5) agent(markGood)
        else if (x < 0.55) agent((s) => ({ ok: true, state: fallBack(s, i).state }))
        else {
          // A reboot the agent asks for, or one it never sees coming (power cut, crash).
          const asked = x < 0.85
          const autoboot = firmwareReads(renderAutobootTxt(book.state))
          const r = asked ? rpiBeforeReboot(book.state, i) : { book: { ...book }, tryboot: false }
          const slot = r.tryboot ? autoboot.tryboot : autoboot.all
          // An unasked boot never boots a pending try: the good slot, the try left pending.
          const pending = !asked && model.trying !== null && model.triesLeft > 0
          const hidden = pending ? { ...model, trying: null, triesLeft: 0 } : model
          const b = boot(hidden, i)
          const want = pending
            ? { ...b, state: { ...b.state, trying: model.trying, triesLeft: model.triesLeft } }
            : b
          assert.equal(slot, want.slot, `seed ${seed} step ${i}: the firmware boots what boot() picks`)
          model = want.state
          // A tried slot may die before its agent runs: the next boot comes without a start.
          if (want.mode === 'trying' && random.next() < 0.3) {
            book = r.book
            const next = boot(model, i)
            const again = firmwareReads(renderAutobootTxt(book.state)).all
            assert.equal(again, next.slot, `seed ${seed} step ${i}: after a dead try, the good slot`)
            model = next.state
            book = rpiAtStart(book, again, i).book
          } else {
            const start = rpiAtStart(r.book, slot, i)
            assert.equal(start.unexpected, false)
            book = start.book
          }
          assert.deepEqual(book.state, model, `seed ${seed} step ${i}`)
        }
      }
    }
  })
})
