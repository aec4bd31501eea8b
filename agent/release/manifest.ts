import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { ImageManifest, sha256 } from '../netboot/manifest.js'

// A release is a netboot image whose manifest also lists the sha256 of every fixed-size
// piece of every file (agent/netboot/manifest.ts holds the schema; the image id — the
// sha256 of manifest.json — is the release id). Pieces are what peers exchange: each one
// is checked against the manifest before it is kept or served again, so a peer can never
// make a node store or forward a byte the signed manifest does not vouch for.

/** 4 MiB: small enough to spread over many peers and to re-fetch cheaply, few enough to list. */
export const pieceBytesDefault = 4 * 1024 * 1024
export const pieceBytesMin = 64 * 1024
export const pieceBytesMax = 16 * 1024 * 1024
/** A release bigger than this is refused (a 1 GB board could not hold two anyway). */
export const releaseBytesMax = 4 * 1024 * 1024 * 1024
export const manifestBytesMax = 1024 * 1024
export const releaseArchs = ['amd64', 'arm64'] as const
export type ReleaseArch = (typeof releaseArchs)[number]

export type ReleaseManifest = ImageManifest & { pieceBytes: number }

export interface Release {
  /** sha256 of the manifest bytes: the release id, the image id, the netboot URL segment. */
  id: string
  manifest: ReleaseManifest
  manifestBytes: Buffer
}

/** One piece: the n-th `pieceBytes` slice of one file. Numbered across the release, files in name order. */
export interface Piece {
  index: number
  file: string
  offset: number
  bytes: number
  sha256: string
}

const invalid = (
  message: string,
  hint = 'rebuild the release with `homecloud release build` and sign it again',
) => new HomecloudError('RELEASE_INVALID', message, hint)

/** Manifest bytes → a release, or RELEASE_INVALID naming the first thing wrong. */
export function parseRelease(manifestBytes: Buffer): Release {
  if (manifestBytes.length > manifestBytesMax)
    throw invalid(`the manifest is ${manifestBytes.length} bytes, more than ${manifestBytesMax}`)
  let raw: unknown
  try {
    raw = JSON.parse(manifestBytes.toString('utf8'))
  } catch {
    throw invalid('the manifest is not JSON')
  }
  const arch = (raw as { arch?: unknown } | null)?.arch
  if (typeof arch === 'string' && !(releaseArchs as readonly string[]).includes(arch))
    throw new HomecloudError(
      'RELEASE_ARCH_UNKNOWN',
      `the release is for architecture "${arch}"; this cluster knows ${releaseArchs.join(', ')}`,
      'build the release for amd64 or arm64 (homecloud release build --arch)',
    )
  const parsed = ImageManifest.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw invalid(`manifest: ${issue?.path.join('.') || 'value'}: ${issue?.message}`)
  }
  const m = parsed.data
  const pb = m.pieceBytes
  if (pb === undefined || pb < pieceBytesMin || pb > pieceBytesMax)
    throw invalid(`manifest: pieceBytes must be between ${pieceBytesMin} and ${pieceBytesMax}`)
  let total = 0
  for (const [name, f] of Object.entries(m.files)) {
    total += f.bytes
    const want = Math.ceil(f.bytes / pb)
    if (f.pieces?.length !== want)
      throw invalid(`manifest: ${name} has ${f.pieces?.length ?? 0} piece hashes, its size needs ${want}`)
  }
  if (total > releaseBytesMax) throw invalid(`the release is ${total} bytes, more than ${releaseBytesMax}`)
  return { id: sha256(manifestBytes), manifest: { ...m, pieceBytes: pb }, manifestBytes }
}

/** Every piece of a release, in a fixed order every node agrees on. */
export function pieceList(m: ReleaseManifest): Piece[] {
  const out: Piece[] = []
  for (const file of Object.keys(m.files).sort()) {
    const f = m.files[file]!
    f.pieces!.forEach((sha, i) => {
      const offset = i * m.pieceBytes
      out.push({
        index: out.length,
        file,
        offset,
        bytes: Math.min(m.pieceBytes, f.bytes - offset),
        sha256: sha,
      })
    })
  }
  return out
}

export function releaseBytes(m: ReleaseManifest): number {
  return Object.values(m.files).reduce((n, f) => n + f.bytes, 0)
}

export const ReleaseSummary = z.object({
  id: z.string(),
  version: z.string(),
  arch: z.enum(releaseArchs),
  kube: z.boolean(),
  bytes: z.number(),
  pieces: z.number(),
})
export type ReleaseSummary = z.infer<typeof ReleaseSummary>

export function summarize(r: Release): ReleaseSummary {
  return {
    id: r.id,
    version: r.manifest.version,
    arch: r.manifest.arch,
    kube: r.manifest.kube ?? false,
    bytes: releaseBytes(r.manifest),
    pieces: pieceList(r.manifest).length,
  }
}

/**
 * The manifest text as images/netboot/build.sh writes it: one file per line, so the
 * netboot /init (busybox sed, no JSON parser) still finds each file's sha256.
 */
export function renderManifest(m: ReleaseManifest): string {
  const head: Record<string, unknown> = { v: 1, version: m.version, arch: m.arch, kube: m.kube ?? false }
  if (m.kernel) head.kernel = m.kernel
  if (m.node) head.node = m.node
  head.pieceBytes = m.pieceBytes
  const lines = Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
  const files = Object.keys(m.files)
    .sort()
    .map((name) => {
      const f = m.files[name]!
      const firmware = f.firmware ? ', "firmware": true' : ''
      return `    ${JSON.stringify(name)}: {"sha256": "${f.sha256}", "bytes": ${f.bytes}${firmware}, "pieces": ${JSON.stringify(f.pieces ?? [])}}`
    })
  return `{\n${lines.join('\n')}\n  "files": {\n${files.join(',\n')}\n  }\n}\n`
}
