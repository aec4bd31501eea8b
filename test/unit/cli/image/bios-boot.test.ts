import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { biosBootSector, placedCoreImage } from '../../../../cli/image/bios-boot.js'
import { fat32SectorsPerCluster } from '../../../../cli/image/disk.js'

// What grub-install --target=i386-pc would write, checked field by field (GRUB's
// include/grub/i386/pc/boot.h offsets). The qemu test (test/cluster/disk-grub.test.ts)
// proves SeaBIOS boots it.

const mbrWithTable = () => {
  const mbr = randomBytes(512)
  mbr.writeUInt16LE(0xaa55, 510)
  return mbr
}

describe('BIOS boot code on a homecloud disk', () => {
  it("boot.img's code, pointed at core.img, with the disk's signature and partition table kept", () => {
    const boot = randomBytes(512)
    const mbr = mbrWithTable()
    const out = biosBootSector(boot, mbr, 1)
    assert.deepEqual(out.subarray(0, 0x5c), boot.subarray(0, 0x5c))
    assert.equal(out.readBigUInt64LE(0x5c), 1n)
    assert.equal(out[0x64], 0xff)
    assert.deepEqual([out[0x66], out[0x67]], [0x90, 0x90])
    assert.deepEqual(out.subarray(0x68, 0x1b8), boot.subarray(0x68, 0x1b8))
    assert.deepEqual(out.subarray(0x1b8), mbr.subarray(0x1b8))
  })

  it('refuses what is not one sector, or a disk without a partition table yet', () => {
    assert.throws(() => biosBootSector(randomBytes(511), mbrWithTable(), 1), /one sector/)
    assert.throws(() => biosBootSector(randomBytes(512), Buffer.alloc(512), 1), /no MBR partition table/)
  })

  it('core.img padded to sectors, its block list: the rest follows the first sector, in one run', () => {
    const core = randomBytes(512 * 300 + 17)
    const out = placedCoreImage(core, 1, 2048)
    assert.equal(out.length, 512 * 301)
    const entry = 512 - 12
    assert.equal(out.readBigUInt64LE(entry), 2n)
    assert.equal(out.readUInt16LE(entry + 8), 300)
    assert.equal(out.readUInt16LE(entry + 10), 0x820)
    assert.ok(
      out.subarray(entry - 12, entry).every((b) => b === 0),
      'the next entry ends the list',
    )
    assert.deepEqual(out.subarray(512, core.length), core.subarray(512))
    assert.ok(
      out.subarray(core.length).every((b) => b === 0),
      'padded with zeros',
    )
    assert.throws(() => placedCoreImage(core, 1, 200), /gap ends at 200/)
    assert.throws(() => placedCoreImage(randomBytes(100), 1, 2048), /at least two sectors/)
  })

  it('FAT32 clusters small enough that a slot keeps at least 65525 of them', () => {
    for (const mib of [64, 96, 128, 512, 1024, 8192]) {
      const sectors = mib * 2048
      const s = fat32SectorsPerCluster(sectors)
      assert.ok(sectors / s >= 65_525, `${mib} MiB: ${sectors / s} clusters`)
      assert.ok(s <= 8)
    }
  })
})
