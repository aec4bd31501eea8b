import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { HomecloudError } from '../core/errors.js'
import { MANIFEST_FILE } from '../netboot/manifest.js'
import { hashFilePieces } from './make.js'
import { parseRelease, type Release } from './manifest.js'
import { SIGNATURE_FILE } from './signature.js'

// A release directory as `release build` and `release sign` leave it: manifest.json,
// release.sig and the artifacts. Read by `release publish` and `release verify`.

export interface ReleaseDir {
  dir: string
  release: Release
  /** release.sig's text, or null when the release is unsigned. */
  sigText: string | null
}

export async function readReleaseDir(dir: string): Promise<ReleaseDir> {
  const bytes = await readFile(join(dir, MANIFEST_FILE)).catch((err: Error) => {
    throw new HomecloudError(
      'RELEASE_INVALID',
      `no ${MANIFEST_FILE} in ${dir}: ${err.message}`,
      'make a release directory with `homecloud release build`',
    )
  })
  const release = parseRelease(bytes)
  const sigText = await readFile(join(dir, SIGNATURE_FILE), 'utf8').catch(() => null)
  return { dir, release, sigText }
}

/** Hashes every file of the directory against the manifest (whole file and each piece). */
export async function checkReleaseFiles(d: ReleaseDir): Promise<void> {
  const m = d.release.manifest
  for (const [name, want] of Object.entries(m.files)) {
    const got = await hashFilePieces(join(d.dir, name), m.pieceBytes).catch(() => null)
    const problem = !got
      ? 'missing'
      : got.bytes !== want.bytes
        ? `${got.bytes} bytes, the manifest says ${want.bytes}`
        : got.sha256 !== want.sha256 || got.pieces.join() !== want.pieces?.join()
          ? 'its content differs from the manifest'
          : null
    if (problem)
      throw new HomecloudError(
        'RELEASE_INVALID',
        `${join(d.dir, name)}: ${problem}`,
        'rebuild the release (homecloud release build) and sign it again',
      )
  }
}
