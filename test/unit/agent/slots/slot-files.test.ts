import assert from 'node:assert/strict'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { execa } from 'execa'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import {
  fat32VolumeId,
  partitionDevice,
  readSlotContent,
  SLOT_FILE,
  slotFilesFor,
} from '../../../../agent/slots/slot-files.js'

const tmp = await mkdtemp(join(tmpdir(), 'hc-slot-files-'))
after(() => rm(tmp, { recursive: true, force: true }))

describe('slot files', () => {
  it('slot.json: none, damaged or foreign reads as no release (never booted); a good one as its content', async () => {
    assert.equal(await readSlotContent(tmp), null)
    for (const text of ['', '{"releaseId":', '{"releaseId":"x"}', 'null']) {
      await writeFile(join(tmp, SLOT_FILE), text)
      assert.equal(await readSlotContent(tmp), null, JSON.stringify(text))
    }
    const c = { releaseId: 'f'.repeat(64), version: '1.2.3', installedAtMs: 5 }
    await writeFile(join(tmp, SLOT_FILE), `${JSON.stringify(c)}\n`)
    assert.deepEqual(await readSlotContent(tmp), c)
  })

  it('names partitions the way the kernel does', () => {
    assert.equal(partitionDevice('/dev/vda', 2), '/dev/vda2')
    assert.equal(partitionDevice('/dev/sda', 4), '/dev/sda4')
    assert.equal(partitionDevice('/dev/mmcblk0', 2), '/dev/mmcblk0p2')
    assert.equal(partitionDevice('/dev/nvme0n1', 3), '/dev/nvme0n1p3')
  })

  it('reads the volume id mkfs.vfat (dosfstools) wrote, and refuses what is not FAT32', async () => {
    const img = join(tmp, 'fat.img')
    await rm(img, { force: true })
    await execa('mkfs.vfat', ['-F', '32', '-i', '1a2b3c4d', '-C', img, String(40 * 1024)])
    const fh = await open(img, 'r')
    const sector = Buffer.alloc(512)
    await fh.read(sector, 0, 512, 0)
    await fh.close()
    assert.equal(fat32VolumeId(sector), '1a2b3c4d')
    assert.deepEqual(Object.keys(slotFilesFor('arm64', 'b', '1a2b3c4d')).sort(), [
      'cmdline-pi5.txt',
      'cmdline.txt',
      'config.txt',
    ])
    assert.match(slotFilesFor('arm64', 'b', '1a2b3c4d')['cmdline.txt'] ?? '', /homecloud\.slotfs=1A2B-3C4D/)
    assert.throws(
      () => fat32VolumeId(Buffer.alloc(512)),
      (e: HomecloudError) => e.code === 'SLOT_FAILED',
    )
    assert.ok((await readFile(img)).length > 0)
  })
})
