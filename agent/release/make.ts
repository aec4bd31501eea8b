import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { copyFile, link, mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import { MANIFEST_FILE, readImage } from '../netboot/manifest.js'
import {
  parseRelease,
  pieceBytesDefault,
  type Release,
  type ReleaseManifest,
  renderManifest,
} from './manifest.js'

// `homecloud release build`: an image directory from images/netboot/build.sh → a release
// directory (the same artifacts, hard-linked when possible, and a manifest that adds the
// piece hashes). Signing is a separate step (`release sign`), so the key can live on
// another machine than the build.

export interface FileHashes {
  sha256: string
  bytes: number
  pieces: string[]
}

/** Streams a file once: its whole sha256 and the sha256 of each `pieceBytes` slice. */
export function hashFilePieces(path: string, pieceBytes: number): Promise<FileHashes> {
  return new Promise((resolve, reject) => {
    const whole = createHash('sha256')
    const pieces: string[] = []
    let piece = createHash('sha256')
    let inPiece = 0
    let bytes = 0
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => {
        const b = chunk as Buffer
        whole.update(b)
        bytes += b.length
        let at = 0
        while (at < b.length) {
          const take = Math.min(b.length - at, pieceBytes - inPiece)
          piece.update(b.subarray(at, at + take))
          inPiece += take
          at += take
          if (inPiece === pieceBytes) {
            pieces.push(piece.digest('hex'))
            piece = createHash('sha256')
            inPiece = 0
          }
        }
      })
      .on('error', reject)
      .on('end', () => {
        if (inPiece > 0) pieces.push(piece.digest('hex'))
        resolve({ sha256: whole.digest('hex'), bytes, pieces })
      })
  })
}

export interface MakeReleaseOptions {
  /** Directory with vmlinuz, initrd.img and the other artifacts (manifest.json optional). */
  from: string
  out: string
  version?: string
  arch?: 'amd64' | 'arm64'
  pieceBytes?: number
  /** Extra files to carry (name → path), e.g. test padding. */
  extra?: Record<string, string>
}

/** Writes a release directory and returns the parsed release (unsigned). */
export async function makeRelease(o: MakeReleaseOptions): Promise<Release> {
  const pieceBytes = o.pieceBytes ?? pieceBytesDefault
  const image = await readImage(o.from).catch(() => null)
  const sources: Record<string, string> = {}
  const names = image
    ? Object.keys(image.manifest.files)
    : (await readdir(o.from)).filter((n) => n !== MANIFEST_FILE && !n.startsWith('.'))
  for (const n of names) sources[n] = join(o.from, n)
  Object.assign(sources, o.extra ?? {})
  const arch = o.arch ?? image?.manifest.arch ?? 'amd64'
  const version = o.version ?? image?.manifest.version
  if (!version) throw new HomecloudError('RELEASE_INVALID', `no version for ${o.from}`, 'pass --version')
  await rm(o.out, { recursive: true, force: true })
  await mkdir(o.out, { recursive: true, mode: 0o755 })
  const files: ReleaseManifest['files'] = {}
  for (const [name, src] of Object.entries(sources)) {
    await stat(src).catch(() => {
      throw new HomecloudError('RELEASE_INVALID', `${src} does not exist`, 'build the netboot image first')
    })
    // Firmware files (GRUB, a Raspberry Pi's) stay marked: /init does not fetch them.
    const firmware = image?.manifest.files[name]?.firmware ? { firmware: true } : {}
    files[name] = { ...(await hashFilePieces(src, pieceBytes)), ...firmware }
    await link(src, join(o.out, name)).catch(() => copyFile(src, join(o.out, name)))
  }
  const manifest: ReleaseManifest = {
    v: 1,
    version,
    arch,
    ...(image?.manifest.kernel ? { kernel: image.manifest.kernel } : {}),
    ...(image?.manifest.node ? { node: image.manifest.node } : {}),
    kube: image?.manifest.kube ?? false,
    pieceBytes,
    files,
  }
  const text = renderManifest(manifest)
  await writeFileAtomic(join(o.out, MANIFEST_FILE), text, 0o644)
  return parseRelease(Buffer.from(text))
}
