import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { MANIFEST_FILE, readImage } from '../../agent/netboot/manifest.js'
import type { ReleaseArch } from '../../agent/release/manifest.js'
import {
  type DiskLayout,
  diskLayout,
  type Partition,
  partition,
  SECTOR_BYTES,
  sfdiskScript,
} from '../../agent/slots/disk-layout.js'
import { DISK_CONSOLE_ARGS, renderGrubCfg } from '../../agent/slots/grub-script.js'
import { initialGrubEnv } from '../../agent/slots/grub-state.js'
import { renderGrubEnv } from '../../agent/slots/grubenv.js'
import { AUTOBOOT_FILE, renderAutobootTxt } from '../../agent/slots/rpi-files.js'
import { SLOT_FILE, slotFilesFor } from '../../agent/slots/slot-files.js'
import type { SlotContent, SlotName } from '../../agent/slots/types.js'
import { biosBootSector, placedCoreImage } from './bios-boot.js'

// Assembles a homecloud disk image in a plain file, without loop devices or mounts:
// sfdisk writes the partition table, mkfs.vfat / mke2fs make each filesystem at its
// offset, mtools copies files into the FAT partitions, and GRUB's BIOS boot code is
// written into the MBR and the gap after it (bios-boot.ts).

export interface DiskImageInput {
  arch: ReleaseArch
  out: string
  /** The release slot a holds (a netboot image directory: images/netboot/build.sh). */
  release: string
  /** Directory from images/disk/grub.sh for this architecture. */
  grubDir: string
  slotMiB: number
  stateMiB: number
  /** Extra files for the boot partition's homecloud/ folder (first-boot settings, join material). */
  bootFiles: Record<string, string>
  /** A directory copied into the state partition (a node's state made elsewhere). */
  stateFrom?: string
  /** Tests: slot b holds this release too, being tried `tries` times. */
  trySlotB?: { release: string; tries: number }
  nowMs: number
  progress: (line: string) => void
}

async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await execa(cmd, args, { reject: false, input, env: { MTOOLS_SKIP_CHECK: '1' } })
  if (r.exitCode !== 0)
    throw new HomecloudError(
      'DISK_IMAGE_FAILED',
      `${cmd} ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).trim().slice(0, 400)}`,
      `${cmd} comes with ${toolPackage[cmd] ?? 'its Debian package'}: run scripts/setup.sh`,
    )
  return String(r.stdout)
}

const toolPackage: Record<string, string> = {
  sfdisk: 'fdisk',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  mmd: 'mtools',
  mke2fs: 'e2fsprogs',
}

/** FAT volume ids: how /init finds the slot that booted (findfs UUID=XXXX-XXXX). */
type VolumeIds = Record<Partition['name'], string>
const volumeIds = (): VolumeIds => {
  const id = () => randomBytes(4).toString('hex')
  return { boot: id(), a: id(), b: id(), state: '' }
}

/**
 * FAT32 is FAT32 only with at least 65525 clusters (mtools and the specification decide
 * the type by the count; mkfs.vfat's own choice fell below it for small partitions):
 * clusters of up to 4 KiB, keeping about 128 Ki of them.
 */
export function fat32SectorsPerCluster(sectors: number): number {
  let s = 1
  while (s < 8 && sectors / (s * 2) >= 131_072) s *= 2
  return s
}

async function makeFilesystems(
  out: string,
  layout: DiskLayout,
  ids: VolumeIds,
  stateFrom?: string,
): Promise<void> {
  for (const p of layout.partitions) {
    if (p.fs === 'vfat') {
      await run('mkfs.vfat', [
        '-F',
        '32',
        '-s',
        String(fat32SectorsPerCluster(p.sectors)),
        '-n',
        p.label,
        '-i',
        ids[p.name],
        `--offset=${p.startSector}`,
        out,
        String((p.sectors * SECTOR_BYTES) / 1024),
      ])
    } else {
      // GRUB never reads the state: ext4 with mke2fs's defaults, the state copied in if given.
      await run('mke2fs', [
        '-q',
        '-F',
        '-t',
        'ext4',
        '-L',
        p.label,
        '-E',
        `offset=${p.startSector * SECTOR_BYTES}`,
        ...(stateFrom ? ['-d', stateFrom] : []),
        out,
        `${(p.sectors * SECTOR_BYTES) / 1024}k`,
      ])
    }
  }
}

const at = (out: string, p: Partition) => `${out}@@${p.startSector * SECTOR_BYTES}`

async function copyInto(out: string, p: Partition, files: [src: string, dest: string][]): Promise<void> {
  for (const [src, dest] of files) await run('mcopy', ['-o', '-i', at(out, p), src, `::${dest}`])
}

async function writeSlot(
  out: string,
  p: Partition,
  work: string,
  release: string,
  extra: Record<string, string>,
  nowMs: number,
): Promise<SlotContent> {
  const image = await readImage(release)
  const files: [string, string][] = [[join(release, MANIFEST_FILE), MANIFEST_FILE]]
  for (const f of Object.keys(image.manifest.files)) files.push([join(release, f), f])
  for (const [name, text] of Object.entries(extra)) {
    const path = join(work, `${p.name}-${name}`)
    await writeFile(path, text)
    files.push([path, name])
  }
  await copyInto(out, p, files)
  const content: SlotContent = { releaseId: image.id, version: image.manifest.version, installedAtMs: nowMs }
  const slotJson = join(work, `${p.name}-${SLOT_FILE}`)
  await writeFile(slotJson, `${JSON.stringify(content)}\n`)
  // Written last: a slot without slot.json is never booted.
  await copyInto(out, p, [[slotJson, SLOT_FILE]])
  return content
}

async function writeBiosBoot(out: string, layout: DiskLayout, grubDir: string): Promise<void> {
  const fh = await open(out, 'r+')
  try {
    const mbr = Buffer.alloc(SECTOR_BYTES)
    await fh.read(mbr, 0, SECTOR_BYTES, 0)
    const core = placedCoreImage(
      await readFile(join(grubDir, 'core.img')),
      1,
      layout.partitions[0]!.startSector,
    )
    await fh.write(biosBootSector(await readFile(join(grubDir, 'boot.img')), mbr, 1), 0, SECTOR_BYTES, 0)
    await fh.write(core, 0, core.length, SECTOR_BYTES)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

async function writeBootPartition(
  input: DiskImageInput,
  layout: DiskLayout,
  work: string,
  trying: { slot: SlotName; tries: number } | undefined,
): Promise<void> {
  const boot = partition(layout, 'boot')
  const grub = renderGrubCfg({
    consoleArgs: DISK_CONSOLE_ARGS[input.arch],
    slotPartitions: { a: partition(layout, 'a').number, b: partition(layout, 'b').number },
    table: 'msdos',
  })
  await writeFile(join(work, 'grub.cfg'), grub)
  await writeFile(join(work, 'grubenv'), renderGrubEnv(initialGrubEnv('a', trying)))
  for (const dir of ['::/EFI', '::/EFI/BOOT', '::/grub', '::/homecloud'])
    await run('mmd', ['-i', at(input.out, boot), dir])
  const efi = input.arch === 'amd64' ? 'BOOTX64.EFI' : 'BOOTAA64.EFI'
  const files: [string, string][] = [
    [join(input.grubDir, efi), `/EFI/BOOT/${efi}`],
    [join(work, 'grub.cfg'), '/grub/grub.cfg'],
    [join(work, 'grubenv'), '/grub/grubenv'],
  ]
  if (input.arch === 'arm64') {
    // The same disk boots a Raspberry Pi 4: its firmware reads this first.
    await writeFile(join(work, AUTOBOOT_FILE), renderAutobootTxt({ good: 'a', trying: trying?.slot ?? null }))
    files.push([join(work, AUTOBOOT_FILE), `/${AUTOBOOT_FILE}`])
  }
  for (const [name, text] of Object.entries(input.bootFiles)) {
    const path = join(work, `boot-${basename(name)}`)
    await writeFile(path, text, { mode: 0o600 })
    files.push([path, `/homecloud/${basename(name)}`])
  }
  await copyInto(input.out, boot, files)
}

/** Writes the image to `input.out` (through a temporary file renamed at the end). */
export async function buildDiskImage(input: DiskImageInput): Promise<DiskLayout> {
  const layout = diskLayout(input)
  const work = await mkdtemp(join(tmpdir(), 'homecloud-disk-'))
  const partial = `${input.out}.partial-${process.pid}`
  try {
    await rm(partial, { force: true })
    const fh = await open(partial, 'w')
    await fh.truncate(layout.bytes)
    await fh.close()
    input.progress(`partitioning ${partial} (${Math.round(layout.bytes / 1024 / 1024)} MiB, sparse)`)
    await run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', partial], sfdiskScript(layout))
    const ids = volumeIds()
    await makeFilesystems(partial, layout, ids, input.stateFrom)
    const target = { ...input, out: partial }
    const trying = input.trySlotB ? { slot: 'b' as const, tries: input.trySlotB.tries } : undefined
    await writeBootPartition(target, layout, work, trying)
    input.progress(`slot a: ${input.release}`)
    await writeSlot(
      partial,
      partition(layout, 'a'),
      work,
      input.release,
      slotFilesFor(input.arch, 'a', ids.a),
      input.nowMs,
    )
    if (input.trySlotB) {
      input.progress(`slot b (tried ${input.trySlotB.tries} times): ${input.trySlotB.release}`)
      const files = slotFilesFor(input.arch, 'b', ids.b)
      await writeSlot(partial, partition(layout, 'b'), work, input.trySlotB.release, files, input.nowMs)
    }
    if (input.arch === 'amd64') await writeBiosBoot(partial, layout, input.grubDir)
    await rename(partial, input.out)
    return layout
  } finally {
    await rm(work, { recursive: true, force: true })
    await rm(partial, { force: true })
  }
}
