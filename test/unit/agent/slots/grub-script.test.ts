import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import { seededRandom } from '../../../../agent/core/random.js'
import { PART } from '../../../../agent/slots/disk-layout.js'
import { DISK_CONSOLE_ARGS, renderGrubCfg } from '../../../../agent/slots/grub-script.js'
import { grubBookFor, grubEnvFor, grubMarksMax, settleGrub } from '../../../../agent/slots/grub-state.js'
import { parseGrubEnv, renderGrubEnv } from '../../../../agent/slots/grubenv.js'
import { boot, emptyBootState } from '../../../../agent/slots/tries.js'
import type { BootState, SlotContent, SlotName } from '../../../../agent/slots/types.js'
import { type GrubRun, runGrubCfg } from './grub-interp.js'

// grub.cfg must decide like tries.ts boot(): for every BootState the generated script —
// run by grub-interp.ts over a modelled disk and the real 1024-byte block — boots the
// same slot, and the grubenv it leaves maps (settleGrub) to the state boot() returns.

const cfg = renderGrubCfg({
  consoleArgs: DISK_CONSOLE_ARGS.amd64,
  slotPartitions: { a: PART.a, b: PART.b },
  table: 'msdos',
})
const rel = (n: number): SlotContent => ({
  releaseId: n.toString(16).padStart(64, '0'),
  version: `0.${n}.0`,
  installedAtMs: n,
})
const boot0 = emptyBootState()
const dev = (slot: SlotName) => `(hd0,msdos${PART[slot]})`

/** Every combination of the names GRUB reads and the slots it finds (1188 states). */
function* everyState(): Generator<BootState> {
  const slotOrNull = [null, 'a', 'b'] as const
  for (const good of slotOrNull)
    for (const trying of slotOrNull)
      for (let triesLeft = 0; triesLeft <= 10; triesLeft++)
        for (const a of [null, rel(1)])
          for (const b of [null, rel(2)])
            for (const booted of slotOrNull)
              yield { v: 1, slots: { a, b }, good, trying, triesLeft, booted, boots: 7, lastFallback: null }
}

/** The disk of a machine in state `s`: slot.json where a slot holds a release, grubenv from the state. */
function diskOf(s: BootState, marks = '') {
  const files = new Set<string>()
  for (const slot of ['a', 'b'] as const) if (s.slots[slot]) files.add(`${dev(slot)}/slot.json`)
  const block = renderGrubEnv({
    ...grubEnvFor(s),
    hc_booted: s.booted ?? '',
    hc_fallback: '',
    hc_marks: marks,
  })
  const parsed = parseGrubEnv(block)
  assert.ok(parsed.ok)
  return {
    root: 'hd0,msdos1',
    files,
    uuids: { [dev('a')]: 'AAAA-0002', [dev('b')]: 'BBBB-0003' },
    envBlock: parsed.env,
  }
}

/** One power-on: GRUB runs; its block is written out and read back as the firmware would. */
function powerOn(disk: ReturnType<typeof diskOf>): GrubRun {
  const run = runGrubCfg(cfg, disk)
  const reread = parseGrubEnv(renderGrubEnv(disk.envBlock))
  assert.ok(reread.ok)
  disk.envBlock = reread.env
  return run
}

const bootedSlot = (run: GrubRun): SlotName | null =>
  run.end === 'boot'
    ? ((run.linux?.find((a) => a.startsWith('homecloud.slot='))?.slice(-1) as SlotName) ?? null)
    : null

describe('grub.cfg decides like tries.ts boot()', () => {
  it('grub-script-check (GRUB 2 from grub-common) accepts the script for both architectures', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-grubcfg-'))
    try {
      for (const arch of ['amd64', 'arm64'] as const) {
        const f = join(dir, `grub-${arch}.cfg`)
        await writeFile(
          f,
          renderGrubCfg({
            consoleArgs: DISK_CONSOLE_ARGS[arch],
            slotPartitions: { a: 2, b: 3 },
            table: 'msdos',
          }),
        )
        const r = await execa('grub-script-check', [f], { reject: false, all: true })
        assert.equal(r.exitCode, 0, `${arch}: ${r.all}`)
      }
      const broken = join(dir, 'broken.cfg')
      await writeFile(broken, `${cfg}\nif [ x = x ]; then\n`)
      assert.notEqual((await execa('grub-script-check', [broken], { reject: false })).exitCode, 0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('for every state: the same slot, the same mode, the same state after the boot', () => {
    let n = 0
    for (const s of everyState()) {
      const want = boot(s, 1000)
      const disk = diskOf(s)
      const run = powerOn(disk)
      const what = JSON.stringify({ ...s, slots: { a: !!s.slots.a, b: !!s.slots.b } })
      assert.equal(bootedSlot(run), want.slot, what)
      assert.equal(run.end, want.slot ? 'boot' : 'halt', what)
      if (want.slot) {
        assert.ok(run.linux?.[0] === `${dev(want.slot)}/vmlinuz`, what)
        assert.ok(run.linux?.includes(`homecloud.bootmode=${want.mode}`), what)
        assert.ok(
          run.linux?.includes(`homecloud.slotfs=${want.slot === 'a' ? 'AAAA-0002' : 'BBBB-0003'}`),
          what,
        )
        assert.equal(run.initrd, `${dev(want.slot)}/initrd.img`, what)
      }
      const got = settleGrub({ env: disk.envBlock, slots: s.slots, book: grubBookFor(s) }, 1000)
      assert.deepEqual(got.state, want.state, what)
      n++
    }
    assert.equal(n, 1188)
  })

  it('boots without the agent in between (a tried slot that dies at start) count and fall back the same', () => {
    const random = seededRandom(14)
    for (let round = 0; round < 400; round++) {
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random.next() * xs.length)] as T
      const s0: BootState = {
        v: 1,
        slots: { a: pick([null, rel(1), rel(1)]), b: pick([null, rel(2), rel(2)]) },
        good: pick([null, 'a', 'b'] as const),
        trying: pick([null, 'a', 'b'] as const),
        triesLeft: Math.floor(random.next() * 5),
        booted: pick([null, 'a', 'b'] as const),
        boots: 3,
        lastFallback: null,
      }
      const disk = diskOf(s0)
      let want = s0
      const k = 1 + Math.floor(random.next() * 6)
      for (let i = 0; i < k; i++) {
        const b = boot(want, 5000)
        const run = powerOn(disk)
        assert.equal(bootedSlot(run), b.slot, `round ${round}, boot ${i + 1}`)
        want = b.state
      }
      const got = settleGrub({ env: disk.envBlock, slots: s0.slots, book: grubBookFor(s0) }, 5000)
      assert.deepEqual(got.state, want, `round ${round} after ${k} boots`)
      assert.deepEqual(got.envChanges, { hc_marks: '', hc_fallback: '' })
    }
  })

  it('a hand-edited block: GRUB decides as boot() does on what the agent reads from it', () => {
    const slots = { a: rel(1), b: rel(2) }
    const odd = ['a', 'b', '', 'c', 'A']
    for (const hc_good of odd)
      for (const hc_trying of odd)
        for (const hc_tries of ['0', '1', '3', '10', '11', '99', '-1', '01', '', 'x']) {
          const envBlock = { hc_good, hc_trying, hc_tries, hc_booted: '', hc_fallback: '', hc_marks: '' }
          const before = settleGrub({ env: envBlock, slots, book: grubBookFor(boot0) }, 9).state
          const disk = { ...diskOf(before), envBlock }
          const run = powerOn(disk)
          const want = boot(before, 9)
          const what = JSON.stringify(envBlock)
          assert.equal(bootedSlot(run), want.slot, what)
          assert.deepEqual(
            settleGrub({ env: disk.envBlock, slots, book: grubBookFor(boot0) }, 9).state,
            want.state,
            what,
          )
        }
  })

  it(`stops marking boots at ${grubMarksMax}, so the block never overflows while the agent never runs`, () => {
    const s: BootState = {
      v: 1,
      slots: { a: rel(1), b: null },
      good: 'a',
      trying: null,
      triesLeft: 0,
      booted: 'a',
      boots: 0,
      lastFallback: null,
    }
    const disk = diskOf(s, 'x'.repeat(grubMarksMax - 1))
    powerOn(disk)
    assert.equal(disk.envBlock.hc_marks, 'x'.repeat(grubMarksMax))
    powerOn(disk)
    assert.equal(disk.envBlock.hc_marks, 'x'.repeat(grubMarksMax))
  })

  it('says what it boots and never starts a slot without slot.json', () => {
    const s: BootState = {
      v: 1,
      slots: { a: null, b: null },
      good: 'a',
      trying: 'b',
      triesLeft: 2,
      booted: null,
      boots: 0,
      lastFallback: null,
    }
    const run = powerOn(diskOf(s))
    assert.equal(run.end, 'halt')
    assert.equal(run.linux, null)
    assert.match(run.echoed.join('\n'), /no slot to boot \(good slot: a\)/)
  })
})
