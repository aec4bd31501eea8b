import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import { makeRelease } from '../../../../agent/release/make.js'
import type { Release } from '../../../../agent/release/manifest.js'
import { PART } from '../../../../agent/slots/disk-layout.js'
import { AUTOBOOT_FILE } from '../../../../agent/slots/rpi-files.js'
import { RpiTrybootSlots } from '../../../../agent/slots/rpi-tryboot.js'
import { fillSlot } from '../../../../agent/slots/slot-files.js'
import type { SlotName } from '../../../../agent/slots/types.js'

// The Pi backend over real directories, with a model of the Pi's bootloader as the
// firmware: it reads autoboot.txt and boots [tryboot] once after `reboot '0 tryboot'`,
// [all] on every other boot. Each boot starts a new agent (a new boot id) unless the
// booted slot is one that dies before its agent runs.

const tmp = await mkdtemp(join(tmpdir(), 'hc-rpi-slots-'))
after(() => rm(tmp, { recursive: true, force: true }))

async function release(version: string): Promise<{ release: Release; dir: string }> {
  const src = join(tmp, `${version}-src`)
  await mkdir(src, { recursive: true })
  for (const n of ['vmlinuz', 'initrd.img', 'agent.tar.zst']) await writeFile(join(src, n), randomBytes(2000))
  const dir = join(tmp, `${version}-release`)
  return { release: await makeRelease({ from: src, out: dir, version, pieceBytes: 64 * 1024 }), dir }
}

function partitionOf(autoboot: string, section: string): SlotName {
  const body = autoboot.split(`[${section}]\n`)[1] ?? ''
  const p = /^boot_partition=(\d+)$/m.exec(body)?.[1]
  const slot = (['a', 'b'] as const).find((s) => String(PART[s]) === p)
  assert.ok(slot, `[${section}] boot_partition=${p}`)
  return slot
}

async function pi(name: string, v1: { release: Release; dir: string }) {
  const root = join(tmp, name)
  const bootDir = join(root, 'boot')
  const slots = { a: join(root, 'slot-a'), b: join(root, 'slot-b') }
  for (const d of [bootDir, slots.a, slots.b]) await mkdir(d, { recursive: true })
  const content = { releaseId: v1.release.id, version: v1.release.manifest.version, installedAtMs: 0 }
  await fillSlot(slots.a, {
    releaseDir: v1.dir,
    manifestFiles: v1.release.manifest.files,
    extra: {},
    content,
  })
  await writeFile(
    join(bootDir, AUTOBOOT_FILE),
    '[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n',
  )
  const clock = manualClock()
  let tryboot = false
  let boots = 0
  const start = (bootedSlot: SlotName) =>
    new RpiTrybootSlots({
      bootDir,
      slots,
      volumeIds: { a: 'AAAA-0002', b: 'BBBB-0003' },
      bootId: `boot-${boots}`,
      bootedSlot,
      clock,
      reboot: async (t) => {
        tryboot = t
      },
    })
  /** Power on: the bootloader picks a partition; its agent starts (or the slot dies first). */
  const powerOn = async (): Promise<{ slot: SlotName; agent: RpiTrybootSlots }> => {
    const autoboot = await readFile(join(bootDir, AUTOBOOT_FILE), 'utf8')
    const slot = partitionOf(autoboot, tryboot ? 'tryboot' : 'all')
    tryboot = false
    boots++
    clock.advance(1000)
    return { slot, agent: start(slot) }
  }
  return { powerOn, slots }
}

describe('Raspberry Pi tryboot slots (BootSlots over autoboot.txt and a book)', async () => {
  const v1 = await release('1.0.0')
  const v2 = await release('2.0.0')
  const v3 = await release('3.0.0')

  it('installs (with its own cmdline.txt), tries once, commits; a bad release comes back on the good slot', async () => {
    const p = await pi('upgrade', v1)
    let boot = await p.powerOn()
    assert.equal(boot.slot, 'a')
    let r = await boot.agent.report()
    assert.deepEqual([r.booted, r.committed, r.boots], ['a', true, 1])
    // A restart of the agent in the same boot counts nothing.
    assert.equal((await boot.agent.report()).boots, 1)
    r = await boot.agent.install(v2)
    assert.equal(r.installed.b?.version, '2.0.0')
    assert.match(
      await readFile(join(p.slots.b, 'cmdline.txt'), 'utf8'),
      /homecloud\.slot=b homecloud\.slotfs=BBBB-0003/,
    )
    r = await boot.agent.tryNext(3)
    assert.equal(r.triesLeft, 1, 'the firmware honours one try')
    await boot.agent.reboot()
    boot = await p.powerOn()
    assert.equal(boot.slot, 'b')
    r = await boot.agent.report()
    assert.deepEqual([r.booted, r.trying, r.triesLeft, r.committed, r.boots], ['b', 'b', 0, false, 2])
    r = await boot.agent.markGood()
    assert.deepEqual([r.good, r.committed], ['b', true])
    boot = await p.powerOn()
    assert.equal(boot.slot, 'b', 'an ordinary boot boots the committed slot')

    // v3 dies before its agent runs; the watchdog's ordinary reboot boots b, which records the fallback.
    await boot.agent.install(v3)
    await boot.agent.tryNext(1)
    await boot.agent.reboot()
    const dead = await p.powerOn()
    assert.equal(dead.slot, 'a')
    boot = await p.powerOn()
    assert.equal(boot.slot, 'b')
    r = await boot.agent.report()
    assert.deepEqual([r.booted, r.good, r.trying, r.committed], ['b', 'b', null, true])
    assert.equal(r.lastFallback?.version, '3.0.0')
    assert.equal(r.lastFallback?.reason, 'tries-exhausted')
  })

  it('a power cut with a try asked for but not rebooted into boots good and keeps the try', async () => {
    const p = await pi('pending', v1)
    let boot = await p.powerOn()
    await boot.agent.install(v2)
    await boot.agent.tryNext(1)
    boot = await p.powerOn()
    assert.equal(boot.slot, 'a')
    const r = await boot.agent.report()
    assert.deepEqual([r.booted, r.trying, r.triesLeft, r.lastFallback], ['a', 'b', 1, null])
    await boot.agent.reboot()
    assert.equal((await p.powerOn()).slot, 'b')
  })

  it('a damaged book is SLOT_FAILED', async () => {
    const p = await pi('damaged', v1)
    const boot = await p.powerOn()
    await boot.agent.report()
    await writeFile(join(tmp, 'damaged', 'boot', 'homecloud', 'slots.json'), '{"v":1,')
    await assert.rejects((await p.powerOn()).agent.report(), (e: HomecloudError) => e.code === 'SLOT_FAILED')
  })

  it('refuses what tries.ts refuses, with SLOT_REFUSED', async () => {
    const p = await pi('refuse', v1)
    const boot = await p.powerOn()
    await assert.rejects(boot.agent.tryNext(1), (e: HomecloudError) => e.code === 'SLOT_REFUSED')
    await assert.rejects(boot.agent.tryNext(0), (e: HomecloudError) => e.code === 'SLOT_REFUSED')
  })
})
