import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { diskBootParams, grubSlotsOnDisk } from '../../../../agent/slots/disk-boot.js'
import { DISK_CONSOLE_ARGS, renderGrubCfg } from '../../../../agent/slots/grub-script.js'
import { initialGrubEnv } from '../../../../agent/slots/grub-state.js'
import { renderGrubEnv } from '../../../../agent/slots/grubenv.js'

const tmp = await mkdtemp(join(tmpdir(), 'hc-disk-boot-slots-'))
after(() => rm(tmp, { recursive: true, force: true }))

describe('booted from a disk: what the kernel command line says, and the GRUB backend over /init mounts', () => {
  it('reads the slot and firmware grub.cfg and a Pi cmdline.txt write; anything else is no disk boot', () => {
    const cfg = renderGrubCfg({
      consoleArgs: DISK_CONSOLE_ARGS.amd64,
      slotPartitions: { a: 2, b: 3 },
      table: 'msdos',
    })
    // grub.cfg's own linux line, with GRUB's variables as GRUB expands them.
    const line = cfg
      .split('\n')
      .find((l) => l.startsWith('linux '))!
      .replace('$hc_slot', 'b')
      .replace('$hc_uuid', '1a2b-3c4d')
      .replace('$hc_mode', 'trying')
    assert.deepEqual(diskBootParams(line), { firmware: 'grub', slot: 'b' })
    assert.deepEqual(
      diskBootParams('console=ttyAMA0 homecloud.firmware=rpi homecloud.slot=a homecloud.slotfs=x'),
      {
        firmware: 'rpi-tryboot',
        slot: 'a',
      },
    )
    for (const bad of [
      'console=ttyS0 homecloud.url=http://10.77.0.2:7080/netboot homecloud.image=abc',
      'homecloud.firmware=grub homecloud.slot=c',
      'homecloud.firmware=grub',
      'homecloud.firmware=uboot homecloud.slot=a',
      'homecloud.slot=a',
      '',
    ])
      assert.equal(diskBootParams(bad), null, bad)
  })

  it('reports the disk as GRUB left it: the booted slot, boots counted from its marks', async () => {
    const boot = join(tmp, 'boot')
    const slots = { a: join(tmp, 'a'), b: join(tmp, 'b') }
    for (const d of [join(boot, 'grub'), join(boot, 'homecloud'), slots.a, slots.b])
      await mkdir(d, { recursive: true })
    const content = { releaseId: 'a'.repeat(64), version: 'v1', installedAtMs: 1 }
    await writeFile(join(slots.a, 'slot.json'), JSON.stringify(content))
    await writeFile(
      join(boot, 'grub', 'grubenv'),
      renderGrubEnv({ ...initialGrubEnv('a'), hc_booted: 'a', hc_marks: 'xx' }),
    )
    const backend = grubSlotsOnDisk({
      arch: 'amd64',
      clock: manualClock(),
      reboot: async () => {},
      mounts: { boot, slots },
    })
    const r = await backend.report()
    assert.equal(r.kind, 'grub')
    assert.deepEqual([r.booted, r.good, r.committed, r.boots], ['a', 'a', true, 2])
    assert.deepEqual(r.bootedRelease, content)
    // The marks were folded into the book beside grubenv: a second report counts them once.
    assert.equal((await backend.report()).boots, 2)
  })
})
