import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { HomecloudError } from '../core/errors.js'
import type { Release } from '../release/manifest.js'

// A release's agent bundle (agent.tar.zst: node, its libraries, the agent with its
// node_modules, etcd) unpacked into a slot directory: checked against the release's
// manifest first, unpacked beside the slot, then moved into place, so a slot directory
// is either the old bundle or the whole new one.

export const BUNDLE_FILE = 'agent.tar.zst'

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Unpacks `<releaseDir>/agent.tar.zst` into `slotDir` (replacing it), after checking its sha256. */
export async function unpackBundle(release: Release, releaseDir: string, slotDir: string): Promise<void> {
  const want = release.manifest.files[BUNDLE_FILE]
  const src = join(releaseDir, BUNDLE_FILE)
  if (!want)
    throw new HomecloudError(
      'SLOT_FAILED',
      `release ${release.manifest.version} has no ${BUNDLE_FILE}`,
      'build it with images/netboot/build.sh',
    )
  const got = await sha256File(src).catch((err: Error) => {
    throw new HomecloudError(
      'SLOT_FAILED',
      `cannot read ${src}: ${err.message}`,
      'the release store lost a file: it is fetched again',
    )
  })
  if (got !== want.sha256)
    throw new HomecloudError(
      'SLOT_FAILED',
      `${src} has sha256 ${got}, the manifest says ${want.sha256}`,
      'the release store holds a damaged copy: it is fetched again',
    )
  const partial = `${slotDir}.partial`
  await rm(partial, { recursive: true, force: true })
  await mkdir(partial, { recursive: true, mode: 0o755 })
  const r = await execa('tar', ['-I', 'zstd', '-xf', src, '-C', partial], { reject: false })
  if (r.exitCode !== 0) {
    await rm(partial, { recursive: true, force: true })
    throw new HomecloudError(
      'SLOT_FAILED',
      `unpacking ${src}: ${String(r.stderr).slice(0, 300)}`,
      'check the disk has room (about 200 MB per slot)',
    )
  }
  await rm(slotDir, { recursive: true, force: true })
  await rename(partial, slotDir)
}
