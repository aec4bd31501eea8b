import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { Sha256Hex } from '../core/ids.js'

// The netboot image: a directory holding manifest.json and the artifacts it lists
// (images/netboot/build.sh writes it). The image id is the sha256 of manifest.json, so
// every node serving the same id serves the same bytes, whoever answers the machine.

/** Artifact names: one path segment, no dot files, nothing a URL could climb out with. */
export const ArtifactName = z
  .string()
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'an artifact name is lower-case letters, digits, dots, dashes')

/** A file of the image: its size and sha256, and for a release the sha256 of each fixed-size piece. */
export const ImageFile = z.object({
  sha256: Sha256Hex,
  bytes: z.number().int().nonnegative(),
  pieces: z.array(Sha256Hex).max(65_536).optional(),
  /** Served to the firmware or boot loader (GRUB, a Raspberry Pi's files); /init skips it. */
  firmware: z.boolean().optional(),
})

export const ImageManifest = z.object({
  v: z.literal(1),
  version: z.string().min(1).max(64),
  arch: z.enum(['amd64', 'arm64']),
  kernel: z.string().max(200).optional(),
  node: z.string().max(40).optional(),
  /** The etcd release the bundle carries (images/etcd/build.sh). */
  etcd: z.string().max(40).optional(),
  /** The Kubernetes version its kubelet runs (a --kube image), for the rollout's version-skew rules. */
  kubernetes: z.string().max(40).optional(),
  /** Built with --kube: booted machines run a real kubelet + containerd. */
  kube: z.boolean().optional(),
  /** Releases (agent/release): the piece size every file is cut into, the last piece shorter. */
  pieceBytes: z.number().int().optional(),
  files: z
    .record(ArtifactName, ImageFile)
    .refine((f) => 'vmlinuz' in f && 'initrd.img' in f, 'files must list vmlinuz and initrd.img'),
})
export type ImageManifest = z.infer<typeof ImageManifest>

export interface NetbootImage {
  dir: string
  /** sha256 of manifest.json: the image id in URLs and on the kernel command line. */
  id: string
  manifest: ImageManifest
  manifestBytes: Buffer
}

export const MANIFEST_FILE = 'manifest.json'

/** Reads and parses an image directory (no artifact hashing: see verifyImage). */
export async function readImage(dir: string): Promise<NetbootImage> {
  const manifestBytes = await readFile(join(dir, MANIFEST_FILE)).catch((err: Error) => {
    throw new HomecloudError(
      'NETBOOT_IMAGE_INVALID',
      `no ${MANIFEST_FILE} in the netboot image directory ${dir}: ${err.message}`,
      'build the image with images/netboot/build.sh and set netboot.imageDir to the directory it prints',
    )
  })
  let raw: unknown
  try {
    raw = JSON.parse(manifestBytes.toString('utf8'))
  } catch {
    throw new HomecloudError(
      'NETBOOT_IMAGE_INVALID',
      `${join(dir, MANIFEST_FILE)} is not JSON`,
      'rebuild the image',
    )
  }
  const parsed = ImageManifest.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new HomecloudError(
      'NETBOOT_IMAGE_INVALID',
      `${join(dir, MANIFEST_FILE)}: ${issue?.path.join('.') || 'manifest'}: ${issue?.message}`,
      'rebuild the image with images/netboot/build.sh',
    )
  }
  return { dir, id: sha256(manifestBytes), manifest: parsed.data, manifestBytes }
}

export interface ArtifactCheck {
  name: string
  ok: boolean
  /** Why it failed: missing, wrong size, wrong hash. */
  problem?: string
}

/** Pure: compares what is on disk (name → size and hash, or null when missing) with the manifest. */
export function checkArtifacts(
  manifest: ImageManifest,
  found: Record<string, { bytes: number; sha256: string } | null>,
): ArtifactCheck[] {
  return Object.entries(manifest.files).map(([name, want]) => {
    const got = found[name]
    if (!got) return { name, ok: false, problem: 'missing' }
    if (got.bytes !== want.bytes)
      return { name, ok: false, problem: `${got.bytes} bytes, the manifest says ${want.bytes}` }
    if (got.sha256 !== want.sha256)
      return { name, ok: false, problem: `sha256 ${got.sha256}, the manifest says ${want.sha256}` }
    return { name, ok: true }
  })
}

/** Hashes every artifact and refuses the image if any differs from its manifest. */
export async function verifyImage(image: NetbootImage): Promise<void> {
  const found: Record<string, { bytes: number; sha256: string } | null> = {}
  for (const name of Object.keys(image.manifest.files)) {
    const path = join(image.dir, name)
    found[name] = await stat(path)
      .then(async (s) => ({ bytes: s.size, sha256: await sha256File(path) }))
      .catch(() => null)
  }
  const bad = checkArtifacts(image.manifest, found).filter((c) => !c.ok)
  if (bad.length > 0) {
    throw new HomecloudError(
      'NETBOOT_IMAGE_INVALID',
      `the netboot image in ${image.dir} does not match its manifest: ${bad.map((b) => `${b.name} (${b.problem})`).join(', ')}`,
      'rebuild it with images/netboot/build.sh --force',
    )
  }
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')))
  })
}
