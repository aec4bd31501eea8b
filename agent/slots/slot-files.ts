import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { HomecloudError } from '../core/errors.js'
import { MANIFEST_FILE } from '../netboot/manifest.js'
import type { ReleaseArch } from '../release/manifest.js'
import { fatVolumeUuid, slotFilesFor as piSlotFiles } from './rpi-files.js'
import { SlotContent, type SlotName } from './types.js'

// A slot partition, mounted: a release's files and, written last, slot.json. Shared by
// the disk image builder (through mtools) and the agent's install (here): whatever reads
// a slot — GRUB, the Pi firmware, /init, the agent — trusts it only with slot.json.

export const SLOT_FILE = 'slot.json'
export const RELEASE_SIG_FILE = 'release.sig'

export function slotFilesFor(
  arch: ReleaseArch,
  slot: SlotName,
  volumeUuid = '00000000',
): Record<string, string> {
  return piSlotFiles(arch, slot, volumeUuid.includes('-') ? volumeUuid : fatVolumeUuid(volumeUuid))
}

/** slot.json of a mounted slot; null when there is none (never installed, or cut off mid-install). */
export async function readSlotContent(dir: string): Promise<SlotContent | null> {
  let text: string
  try {
    text = await readFile(join(dir, SLOT_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new HomecloudError('SLOT_FAILED', `cannot read ${join(dir, SLOT_FILE)}: ${(err as Error).message}`)
  }
  // A damaged slot.json is a slot that cannot be booted: the same as none.
  let raw: unknown = null
  try {
    raw = JSON.parse(text)
  } catch {
    return null
  }
  const parsed = SlotContent.safeParse(raw)
  return parsed.success ? parsed.data : null
}

async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } catch {
    // FAT directories may refuse fsync; the files themselves were synced.
  } finally {
    await fh.close()
  }
}

/** Copies a file and checks what landed against the manifest's sha256 (a bad card shows here, not at boot). */
async function copyChecked(src: string, dest: string, sha256: string | null): Promise<void> {
  await pipeline(createReadStream(src), createWriteStream(dest))
  await syncPath(dest)
  if (sha256 === null) return
  const h = createHash('sha256')
  for await (const chunk of createReadStream(dest, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  const got = h.digest('hex')
  if (got !== sha256)
    throw new HomecloudError(
      'SLOT_FAILED',
      `${dest} reads back with sha256 ${got}, the release says ${sha256}`,
      'the disk may be failing: check it (or the SD card) and install again',
    )
}

export interface SlotWrite {
  /** The release directory (complete, verified: a netboot image directory). */
  releaseDir: string
  manifestFiles: Record<string, { sha256: string }>
  /** Generated files (the Pi's config.txt and cmdline.txt). */
  extra: Record<string, string>
  content: SlotContent
}

/**
 * Replaces everything in a mounted slot with a release: slot.json goes first, so a cut
 * anywhere in between leaves a slot that is never booted, and comes back last.
 */
export async function fillSlot(dir: string, w: SlotWrite): Promise<void> {
  await rm(join(dir, SLOT_FILE), { force: true })
  await syncPath(dir)
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true })
  await copyChecked(join(w.releaseDir, MANIFEST_FILE), join(dir, MANIFEST_FILE), null)
  const sig = join(w.releaseDir, RELEASE_SIG_FILE)
  await copyChecked(sig, join(dir, RELEASE_SIG_FILE), null).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err
  })
  for (const [name, f] of Object.entries(w.manifestFiles))
    await copyChecked(join(w.releaseDir, name), join(dir, name), f.sha256)
  for (const [name, text] of Object.entries(w.extra)) {
    await writeFile(join(dir, name), text)
    await syncPath(join(dir, name))
  }
  await writeFile(join(dir, SLOT_FILE), `${JSON.stringify(SlotContent.parse(w.content))}\n`)
  await syncPath(join(dir, SLOT_FILE))
  await syncPath(dir)
}

/** The device of partition `n` of a disk: vda → vda2, mmcblk0 → mmcblk0p2, nvme0n1 → nvme0n1p2. */
export function partitionDevice(disk: string, n: number): string {
  return /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`
}

/** The volume id of a FAT32 filesystem from its first sector (offset 0x43), as 8 hex digits. */
export function fat32VolumeId(bootSector: Buffer): string {
  if (
    bootSector.length < 512 ||
    bootSector.readUInt16LE(510) !== 0xaa55 ||
    bootSector.toString('latin1', 82, 87) !== 'FAT32'
  )
    throw new HomecloudError(
      'SLOT_FAILED',
      'the slot partition holds no FAT32 filesystem',
      'write the disk image again',
    )
  return bootSector.readUInt32LE(0x43).toString(16).padStart(8, '0')
}
