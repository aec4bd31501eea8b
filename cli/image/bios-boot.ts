import { SECTOR_BYTES } from '../../agent/slots/disk-layout.js'

// GRUB's BIOS boot on a homecloud disk (pure): what `grub-install --target=i386-pc`
// writes, done on an image file so no loop device or mount is needed. The BIOS runs
// sector 0 (GRUB's boot.img, with the disk's own partition table kept); boot.img loads
// the first sector of core.img (diskboot) from the sector it is told; diskboot loads the
// rest of core.img from the block list at its end. core.img sits in the gap between the
// MBR and the first partition. Offsets from GRUB's include/grub/i386/pc/boot.h.

/** boot.img: the LBA of core.img's first sector (8 bytes, little-endian). */
const KERNEL_SECTOR = 0x5c
/** boot.img: the BIOS drive to use; 0xff = the one the BIOS booted from. */
const BOOT_DRIVE = 0x64
/** boot.img: a 2-byte jump that trusts the BIOS's drive only for floppies; nop'ed for disks. */
const DRIVE_CHECK = 0x66
/** From here on sector 0 belongs to the disk: the NT disk signature, the partition table, 55 AA. */
const KEEP_FROM = 0x1b8
/** diskboot's block list entries (start u64, length u16, segment u16) grow down from its end. */
const BLOCKLIST_ENTRY = 12
/** Where diskboot loads the second sector of core.img: GRUB_BOOT_I386_PC_KERNEL_SEG + one sector. */
const FIRST_SEGMENT = 0x800 + (SECTOR_BYTES >> 4)

/** Sector 0: GRUB's boot code told where core.img starts, the disk's partition table kept. */
export function biosBootSector(bootImg: Buffer, mbr: Buffer, coreSector: number): Buffer {
  if (bootImg.length !== SECTOR_BYTES || mbr.length !== SECTOR_BYTES)
    throw new Error('assertion: boot.img and the MBR are one sector each')
  if (mbr.readUInt16LE(510) !== 0xaa55) throw new Error('assertion: the disk has no MBR partition table yet')
  const out = Buffer.from(mbr)
  bootImg.copy(out, 0, 0, KEEP_FROM)
  out.writeBigUInt64LE(BigInt(coreSector), KERNEL_SECTOR)
  out[BOOT_DRIVE] = 0xff
  out[DRIVE_CHECK] = 0x90
  out[DRIVE_CHECK + 1] = 0x90
  return out
}

/**
 * core.img padded to whole sectors, its block list saying: the rest of me follows my
 * first sector on disk, in one run. `gapSectors`: room before the first partition.
 */
export function placedCoreImage(core: Buffer, coreSector: number, gapSectors: number): Buffer {
  const sectors = Math.ceil(core.length / SECTOR_BYTES)
  if (sectors < 2) throw new Error('assertion: core.img is at least two sectors')
  if (coreSector + sectors > gapSectors)
    throw new Error(
      `assertion: core.img needs ${sectors} sectors from ${coreSector}, the gap ends at ${gapSectors}`,
    )
  const out = Buffer.alloc(sectors * SECTOR_BYTES)
  core.copy(out)
  const entry = SECTOR_BYTES - BLOCKLIST_ENTRY
  out.writeBigUInt64LE(BigInt(coreSector + 1), entry)
  out.writeUInt16LE(sectors - 1, entry + 8)
  out.writeUInt16LE(FIRST_SEGMENT, entry + 10)
  // The entry below ends the list.
  out.fill(0, entry - BLOCKLIST_ENTRY, entry)
  return out
}
