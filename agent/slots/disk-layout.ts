import type { ReleaseArch } from '../release/manifest.js'

// The partitions of a homecloud disk (pure), the same on every kind of machine so one
// image boots a PC (BIOS or UEFI, through GRUB), an arm64 UEFI machine (GRUB) and a
// Raspberry Pi 4 (its firmware's tryboot):
//
//   MBR + gap    GRUB's BIOS core image sits in the sectors before the first partition
//   1  boot      FAT32: GRUB (EFI/BOOT/BOOT*.EFI), grub/grub.cfg, grub/grubenv; the Pi's
//                autoboot.txt; homecloud/ (first-boot settings, the slot book)
//   2  slot a    FAT32: a release (vmlinuz, initrd.img, agent.tar.zst, manifest.json, the
//   3  slot b    Pi's firmware files, config.txt, cmdline.txt) and slot.json, written last
//   4  state     ext4 "homecloud-state": identity, certificates, etcd data (journaled)
//
// FAT for the slots because the Pi firmware reads nothing else, and one format keeps one
// code path; a power cut while a slot is written can only hurt that slot, which is
// neither booted nor committed (its slot.json comes last). The state is ext4: etcd's
// data must survive a power cut, and ext4's journal replays on the next mount.

export const SECTOR_BYTES = 512
const MiB = 1024 * 1024
const sectorsPerMiB = MiB / SECTOR_BYTES

export const PART = { boot: 1, a: 2, b: 3, state: 4 } as const
export const STATE_LABEL = 'homecloud-state'
export const BOOT_LABEL = 'HC-BOOT'
export const SLOT_LABELS = { a: 'HC-SLOT-A', b: 'HC-SLOT-B' } as const

/** Limits: a slot must hold a Kubernetes release (~150 MB on arm64) with room to grow. */
export const slotMiBMin = 96
export const slotMiBMax = 8192
export const slotMiBDefault = 512
/** etcd alone preallocates a 64 MB write-ahead log segment (a 64 MiB state partition booted and failed with ENOSPC). */
export const stateMiBMin = 256
export const stateMiBDefault = 1024
export const bootMiB = 64

export interface Partition {
  name: 'boot' | 'a' | 'b' | 'state'
  number: number
  startSector: number
  sectors: number
  /** MBR type byte: 0xEF EFI system, 0x0C FAT32 (LBA), 0x83 Linux. */
  type: number
  fs: 'vfat' | 'ext4'
  label: string
}

export interface DiskLayout {
  bytes: number
  partitions: Partition[]
}

/**
 * On a PC the boot partition is the EFI system partition (type EF); a Raspberry Pi's
 * firmware looks for autoboot.txt on a FAT32 partition (type 0C), and arm64 UEFI boots
 * from either, so arm64 disks use 0C.
 */
export function diskLayout(opts: { arch: ReleaseArch; slotMiB: number; stateMiB: number }): DiskLayout {
  if (!Number.isInteger(opts.slotMiB) || opts.slotMiB < slotMiBMin || opts.slotMiB > slotMiBMax)
    throw new Error(`assertion: slot size ${opts.slotMiB} MiB outside ${slotMiBMin}…${slotMiBMax}`)
  if (!Number.isInteger(opts.stateMiB) || opts.stateMiB < stateMiBMin)
    throw new Error(`assertion: state size ${opts.stateMiB} MiB below ${stateMiBMin}`)
  const sizes: [Partition['name'], number, number, Partition['fs'], string][] = [
    ['boot', bootMiB, opts.arch === 'amd64' ? 0xef : 0x0c, 'vfat', BOOT_LABEL],
    ['a', opts.slotMiB, 0x0c, 'vfat', SLOT_LABELS.a],
    ['b', opts.slotMiB, 0x0c, 'vfat', SLOT_LABELS.b],
    ['state', opts.stateMiB, 0x83, 'ext4', STATE_LABEL],
  ]
  // The first MiB holds the MBR and GRUB's BIOS core image.
  let next = sectorsPerMiB
  const partitions = sizes.map(([name, mib, type, fs, label]) => {
    const p = { name, number: PART[name], startSector: next, sectors: mib * sectorsPerMiB, type, fs, label }
    next += p.sectors
    return p
  })
  return { bytes: next * SECTOR_BYTES, partitions }
}

/** The table as sfdisk reads it on stdin (MBR, sectors). */
export function sfdiskScript(layout: DiskLayout): string {
  const lines = ['label: dos', 'unit: sectors', '']
  for (const p of layout.partitions)
    lines.push(
      `start=${p.startSector}, size=${p.sectors}, type=${p.type.toString(16)}${p.name === 'boot' ? ', bootable' : ''}`,
    )
  return `${lines.join('\n')}\n`
}

export function partition(layout: DiskLayout, name: Partition['name']): Partition {
  const p = layout.partitions.find((x) => x.name === name)
  if (!p) throw new Error(`assertion: no ${name} partition`)
  return p
}
