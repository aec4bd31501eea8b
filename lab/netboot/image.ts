import { join } from 'node:path'
import { execa } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { packageRoot } from '../../agent/core/package-root.js'

/**
 * The netboot image for the lab: images/netboot/build.sh (cached by its inputs, so
 * instant after the first build of this code). Build progress goes to `progress`.
 */
export async function ensureNetbootImage(
  progress: (line: string) => void,
  opts: {
    kube?: boolean
    arch?: 'amd64' | 'arm64'
    /** Stamp this release version (the manifest's and the agent's own). */
    version?: string
    /** Tests only: an agent that exits at start (a bad release). */
    testExitAtStart?: boolean
  } = {},
): Promise<string> {
  const script = join(packageRoot(), 'images', 'netboot', 'build.sh')
  // --kube: the machines it boots run a real kubelet + containerd (a bigger download).
  const args = [
    ...(opts.kube ? ['--kube'] : []),
    ...(opts.arch && opts.arch !== 'amd64' ? ['--arch', opts.arch] : []),
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
      `building the netboot image failed (exit ${r.exitCode})`,
      `run ${script} to see why; it needs apt, dpkg-deb, cpio, zstd and a built agent (npx tsc)`,
    )
  }
  return dir
}
