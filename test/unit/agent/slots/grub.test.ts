import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import { makeRelease } from '../../../../agent/release/make.js'
import type { Release } from '../../../../agent/release/manifest.js'
import { PART } from '../../../../agent/slots/disk-layout.js'
import { GrubBootSlots } from '../../../../agent/slots/grub.js'
import { DISK_CONSOLE_ARGS, renderGrubCfg } from '../../../../agent/slots/grub-script.js'
import { initialGrubEnv } from '../../../../agent/slots/grub-state.js'
import { parseGrubEnv, renderGrubEnv } from '../../../../agent/slots/grubenv.js'
import { fillSlot } from '../../../../agent/slots/slot-files.js'
import type { SlotName } from '../../../../agent/slots/types.js'
import { runGrubCfg } from './grub-interp.js'

// The GRUB backend over real directories (the mounted boot partition and slots), with
// the generated grub.cfg — run by grub-interp.ts over those same files — as the firmware.

const tmp = await mkdtemp(join(tmpdir(), 'hc-grub-slots-'))
after(() => rm(tmp, { recursive: true, force: true }))
const cfg = renderGrubCfg({
  consoleArgs: DISK_CONSOLE_ARGS.amd64,
  slotPartitions: { a: PART.a, b: PART.b },
  table: 'msdos',
})

async function release(version: string): Promise<{ release: Release; dir: string }> {
  const src = join(tmp, `${version}-src`)
  await mkdir(src, { recursive: true })
  for (const n of ['vmlinuz', 'initrd.img', 'agent.tar.zst']) await writeFile(join(src, n), randomBytes(3000))
  const dir = join(tmp, `${version}-release`)
  return { release: await makeRelease({ from: src, out: dir, version, pieceBytes: 64 * 1024 }), dir }
}

async function machine(name: string) {
  const root = join(tmp, name)
  const paths = {
    grubenv: join(root, 'boot/grub/grubenv'),
    book: join(root, 'boot/homecloud/slots.json'),
    slots: { a: join(root, 'slot-a'), b: join(root, 'slot-b') },
  }
  for (const d of [join(root, 'boot/grub'), paths.slots.a, paths.slots.b]) await mkdir(d, { recursive: true })
  const clock = manualClock()
  let reboots = 0
  const slots = new GrubBootSlots({ arch: 'amd64', paths, clock, reboot: async () => void reboots++ })
  /** Power on: GRUB runs grub.cfg over these files and saves its block in place. */
  const powerOn = async (): Promise<SlotName | null> => {
    const parsed = parseGrubEnv(await readFile(paths.grubenv))
    assert.ok(parsed.ok)
    const files = new Set<string>()
    for (const s of ['a', 'b'] as const)
      if (
        await access(join(paths.slots[s], 'slot.json')).then(
          () => true,
          () => false,
        )
      )
        files.add(`(hd0,msdos${PART[s]})/slot.json`)
    const world = { root: 'hd0,msdos1', files, uuids: {}, envBlock: parsed.env }
    const run = runGrubCfg(cfg, world)
    await writeFile(paths.grubenv, renderGrubEnv(world.envBlock))
    clock.advance(1000)
    return run.end === 'boot' ? (run.vars.get('hc_slot') as SlotName) : null
  }
  return { paths, slots, powerOn, reboots: () => reboots }
}

/** A disk as the image writes it: v1 in slot a, committed. */
async function provisioned(name: string, v1: { release: Release; dir: string }) {
  const m = await machine(name)
  await writeFile(m.paths.grubenv, renderGrubEnv(initialGrubEnv('a')))
  const content = { releaseId: v1.release.id, version: v1.release.manifest.version, installedAtMs: 0 }
  await fillSlot(m.paths.slots.a, {
    releaseDir: v1.dir,
    manifestFiles: v1.release.manifest.files,
    extra: {},
    content,
  })
  return m
}

describe('GRUB boot slots (BootSlots over grubenv, with grub.cfg as the firmware)', async () => {
  const v1 = await release('1.0.0')
  const v2 = await release('2.0.0')
  const v3 = await release('3.0.0')

  it('installs, tries, commits; a bad release falls back after its tries by GRUB alone', async () => {
    const m = await provisioned('upgrade', v1)
    assert.equal(await m.powerOn(), 'a')
    let r = await m.slots.report()
    assert.equal(r.booted, 'a')
    assert.equal(r.committed, true)
    assert.equal(r.boots, 1)
    r = await m.slots.install(v2)
    assert.equal(r.installed.b?.version, '2.0.0')
    assert.equal(r.trying, null)
    await m.slots.tryNext(2)
    await m.slots.reboot()
    assert.equal(m.reboots(), 1)
    assert.equal(await m.powerOn(), 'b')
    r = await m.slots.report()
    assert.deepEqual([r.booted, r.committed, r.triesLeft], ['b', false, 1])
    r = await m.slots.markGood()
    assert.deepEqual([r.good, r.committed, r.trying], ['b', true, null])
    assert.equal(await m.powerOn(), 'b')

    // v3 dies before its agent runs: GRUB uses both tries, then boots b again by itself.
    await m.slots.install(v3)
    await m.slots.tryNext(2)
    assert.equal(await m.powerOn(), 'a')
    assert.equal(await m.powerOn(), 'a')
    assert.equal(await m.powerOn(), 'b')
    r = await m.slots.report()
    assert.deepEqual([r.booted, r.good, r.trying, r.committed], ['b', 'b', null, true])
    assert.equal(r.lastFallback?.version, '3.0.0')
    assert.equal(r.lastFallback?.reason, 'tries-exhausted')
    assert.equal(r.boots, 6)
    // Settled once: GRUB's marks and fallback are cleared, the count is kept.
    const env = parseGrubEnv(await readFile(m.paths.grubenv))
    assert.ok(env.ok)
    assert.deepEqual([env.env.hc_marks, env.env.hc_fallback], ['', ''])
    assert.equal((await m.slots.report()).boots, 6)
  })

  it('refuses to install over a tried slot that runs uncommitted, and fallBack goes back to good', async () => {
    const m = await provisioned('refuse', v1)
    await m.powerOn()
    await m.slots.install(v2)
    await m.slots.tryNext(3)
    assert.equal(await m.powerOn(), 'b')
    await assert.rejects(m.slots.install(v3), (e: HomecloudError) => e.code === 'SLOT_REFUSED')
    const r = await m.slots.fallBack()
    assert.equal(r.lastFallback?.reason, 'asked')
    assert.equal(await m.powerOn(), 'a')
  })

  it('a release that reads back wrong is SLOT_FAILED and its slot is never booted', async () => {
    const m = await provisioned('tampered', v1)
    await m.powerOn()
    const bad = { ...v2, dir: join(tmp, 'tampered-release') }
    await rm(bad.dir, { recursive: true, force: true })
    await mkdir(bad.dir)
    for (const f of ['manifest.json', 'vmlinuz', 'initrd.img'])
      await writeFile(join(bad.dir, f), await readFile(join(v2.dir, f)))
    await writeFile(join(bad.dir, 'agent.tar.zst'), randomBytes(3000))
    await assert.rejects(m.slots.install(bad), (e: HomecloudError) => e.code === 'SLOT_FAILED')
    await assert.rejects(m.slots.tryNext(1), (e: HomecloudError) => e.code === 'SLOT_REFUSED')
    assert.equal(await m.powerOn(), 'a')
  })

  it('a damaged grubenv is SLOT_FAILED naming the file', async () => {
    const m = await provisioned('damaged', v1)
    await writeFile(m.paths.grubenv, 'not a block')
    await assert.rejects(
      m.slots.report(),
      (e: HomecloudError) => e.code === 'SLOT_FAILED' && e.message.includes('grubenv'),
    )
  })
})
