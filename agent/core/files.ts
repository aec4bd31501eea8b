import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { HomecloudError } from './errors.js'

/**
 * Write a file so a crash leaves either the old or the new content, never half of
 * one. Secrets get their mode at creation, so they are never readable for a moment;
 * directories made on the way are 0700.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const fh = await open(tmp, 'wx', mode)
    try {
      // The umask may have narrowed a public file (0644 → 0600): restore it. Never widens a key.
      if (((await fh.stat()).mode & 0o777) !== mode && (mode & 0o077) !== 0) await fh.chmod(mode)
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw new HomecloudError(
      'STATE_DIR',
      `cannot write ${path}: ${(err as Error).message}`,
      'check the state directory exists and is writable',
      {
        cause: err,
      },
    )
  }
  await syncDir(dirname(path))
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  }
}
