import { copyFile, mkdir, rename, rm, symlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import { sha256 } from './manifest.js'
import type { TftpEntry } from './tftp-layout.js'

// The TFTP root on disk, kept equal to the pure layout (tftp-layout.ts). The first apply
// starts from an empty directory; later ones change only what differs — a Pi's
// cmdline.txt naming new peers, GRUB and the Pi's files when the arm64 image arrives or
// changes — each entry replaced by a rename, so a transfer never reads a half-written file.

/** What an entry is, for comparing two layouts. */
function fingerprint(e: TftpEntry): string {
  return e.kind === 'file' ? `file ${sha256(e.content)}` : `${e.kind} ${e.target}`
}

export class TftpRoot {
  /** path → fingerprint of what is on disk; null before the first apply. */
  private applied: Map<string, string> | null = null

  constructor(readonly dir: string) {}

  /** Makes the directory match `entries`; returns the paths it wrote or removed. */
  async apply(entries: readonly TftpEntry[]): Promise<string[]> {
    if (!this.applied) {
      await rm(this.dir, { recursive: true, force: true })
      await mkdir(this.dir, { recursive: true, mode: 0o755 })
      this.applied = new Map()
    }
    const applied = this.applied
    const changed: string[] = []
    const wanted = new Set(entries.map((e) => e.path))
    for (const [path] of applied) {
      if (wanted.has(path)) continue
      await rm(join(this.dir, path), { recursive: true, force: true })
      applied.delete(path)
      changed.push(path)
    }
    for (const e of entries) {
      const fp = fingerprint(e)
      if (applied.get(e.path) === fp) continue
      await this.write(e)
      applied.set(e.path, fp)
      changed.push(e.path)
    }
    return changed
  }

  private async write(e: TftpEntry): Promise<void> {
    const to = join(this.dir, e.path)
    await mkdir(dirname(to), { recursive: true, mode: 0o755 })
    if (e.kind === 'file') return writeFileAtomic(to, e.content, 0o644)
    const tmp = `${to}.tmp-${process.pid}`
    await rm(tmp, { force: true })
    if (e.kind === 'symlink') await symlink(e.target, tmp)
    else
      await copyFile(e.target, tmp).catch((err: Error) => {
        throw new HomecloudError(
          'NETBOOT_DNSMASQ',
          `cannot copy ${e.target} into the TFTP root: ${err.message}`,
          'install iPXE: apt-get install ipxe',
        )
      })
    // rename replaces a file or a link at once; a directory in the way has to go first.
    await rename(tmp, to).catch(async () => {
      await rm(to, { recursive: true, force: true })
      await rename(tmp, to)
    })
  }
}
