import { join, resolve } from 'node:path'
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { packageRoot } from '../../agent/core/package-root.js'
import type { ImageArch } from '../../agent/netboot/arch.js'
import type { LabFile } from '../lab-file.js'
import { prepareLabRelease } from './release.js'

/**
 * The netboot image for the lab: images/netboot/build.sh (cached by its inputs, so
 * instant after the first build of this code). Build progress goes to `progress`.
 */
export async function ensureNetbootImage(
  progress: (line: string) => void,
  opts: {
    kube?: boolean
    arch?: ImageArch
    /** Stamp this release version (the manifest's and the agent's own). */
    version?: string
    /** Tests only: an agent that exits at start (a bad release). */
    testExitAtStart?: boolean
  } = {},
): Promise<string> {
  const script = join(packageRoot(), 'images', 'netboot', 'build.sh')
  // --kube: the machines it boots run a real kubelet + containerd (a bigger download).
  const args = [
    '--arch',
    opts.arch ?? 'amd64',
    ...(opts.kube ? ['--kube'] : []),
    ...(opts.version ? ['--version', opts.version] : []),
    ...(opts.testExitAtStart ? ['--test-exit-at-start'] : []),
  ]
  const child = execa('bash', [script, ...args], {
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
  })
  child.stderr?.on('data', (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) if (line.trim()) progress(line.trim())
  })
  const r = await child
  const dir = String(r.stdout ?? '')
    .trim()
    .split('\n')
    .at(-1)
  if (r.exitCode !== 0 || !dir) {
    throw new HomecloudError(
      'NETBOOT_IMAGE_INVALID',
      `building the ${opts.arch ?? 'amd64'} netboot image failed (exit ${r.exitCode})`,
      `run ${script} to see why; it needs apt, dpkg-deb, cpio, zstd and a built agent (npx tsc)`,
    )
  }
  return dir
}

/** The images a netboot lab serves, one per architecture: the given one, or a build each (cached by inputs). */
export async function labImages(
  opts: { imageDir?: string; kube?: boolean; netbootArchs?: ImageArch[] },
  progress: (line: string) => void,
): Promise<string[]> {
  const archs = [...new Set<ImageArch>(opts.netbootArchs ?? ['amd64'])]
  const dirs: string[] = []
  for (const arch of archs) {
    if (opts.imageDir && arch === 'amd64') dirs.push(resolve(opts.imageDir))
    else dirs.push(resolve(await ensureNetbootImage(progress, { kube: opts.kube ?? false, arch })))
  }
  if (dirs.length === 0)
    throw new HomecloudError('LAB_INVALID', 'a netboot lab needs at least one architecture')
  return dirs
}

/** Each image as a signed release in the lab directory (published once the cluster has formed). */
export async function labReleases(dir: string, images: string[]): Promise<NonNullable<LabFile['netboot']>> {
  const [first, ...rest] = images
  if (!first) throw new HomecloudError('LAB_INVALID', 'a netboot lab needs at least one image')
  const otherArchs = []
  for (const [i, imageDir] of rest.entries()) {
    otherArchs.push({ imageDir, releaseDir: await prepareLabRelease(dir, imageDir, `release-${i + 2}`) })
  }
  return { imageDir: first, releaseDir: await prepareLabRelease(dir, first), otherArchs }
}

/**
 * The lab's software, made before anything starts: with netboot one image per
 * architecture, each a release (labReleases); with slots the release every node's slot a
 * holds — lab nodes run on this machine, so the amd64 one: the netboot release when amd64
 * comes first, else the amd64 image made a release of its own.
 */
export async function labSoftware(
  dir: string,
  opts: { netboot?: boolean; slots?: boolean; imageDir?: string; kube?: boolean; netbootArchs?: ImageArch[] },
  progress: (line: string) => void,
): Promise<Pick<LabFile, 'netboot' | 'slots'>> {
  const netboot = opts.netboot ? await labReleases(dir, await labImages(opts, progress)) : undefined
  if (!opts.slots) return { netboot }
  if (netboot?.releaseDir && (opts.netbootArchs?.[0] ?? 'amd64') === 'amd64') {
    return { netboot, slots: { releaseDir: netboot.releaseDir } }
  }
  const imageDir = opts.imageDir ?? (await ensureNetbootImage(progress, { kube: false }))
  return { netboot, slots: { releaseDir: await prepareLabRelease(dir, resolve(imageDir), 'release-slots') } }
}
