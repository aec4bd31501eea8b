import { access, constants } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { HomecloudError } from '../core/errors.js'

// Where the upstream Kubernetes programs are. The netboot image puts them in one
// directory and says so with HOMECLOUD_KUBE_BIN; a development machine uses the cache
// `images/kubernetes/build.sh` fills (pinned version below, kept in step with it).

export const kubernetesVersion = 'v1.37.1'
export const KUBE_PROGRAMS = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
  'kubectl',
  'kwok',
] as const
export type KubeProgram = (typeof KUBE_PROGRAMS)[number]

export function hostArch(arch: string = process.arch): 'amd64' | 'arm64' {
  if (arch === 'x64') return 'amd64'
  if (arch === 'arm64') return 'arm64'
  throw new HomecloudError('KUBE_NOT_INSTALLED', `no Kubernetes build for the ${arch} architecture`)
}

export function kubeBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOMECLOUD_KUBE_BIN) return env.HOMECLOUD_KUBE_BIN
  const cache = env.HOMECLOUD_CACHE ?? join(homedir(), '.cache', 'homecloud')
  return join(cache, 'kubernetes', kubernetesVersion, hostArch(), 'bin')
}

/**
 * Where the image archives every kubelet node imports live (the pause image:
 * images/pause/build.sh). The netboot image says so with HOMECLOUD_KUBE_IMAGES.
 */
export function kubeImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOMECLOUD_KUBE_IMAGES) return env.HOMECLOUD_KUBE_IMAGES
  const cache = env.HOMECLOUD_CACHE ?? join(homedir(), '.cache', 'homecloud')
  return join(cache, 'images', hostArch())
}

/**
 * Where the pod network's wireguard-go is: beside the kubelet in the netboot image
 * (HOMECLOUD_KUBE_BIN), else the cache `images/addons/build.sh` fills.
 */
export async function findWireguardGo(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const cache = env.HOMECLOUD_CACHE ?? join(homedir(), '.cache', 'homecloud')
  const dirs = [
    ...(env.HOMECLOUD_KUBE_BIN ? [env.HOMECLOUD_KUBE_BIN] : []),
    join(cache, 'addons', hostArch(), 'bin'),
  ]
  for (const dir of dirs) {
    const path = join(dir, 'wireguard-go')
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path
  }
  throw new HomecloudError(
    'KUBE_NOT_INSTALLED',
    `wireguard-go is not in ${dirs.join(' or ')}`,
    'build it once: images/addons/build.sh --only wireguard-go (cached afterwards), or set kube.podNetwork.encrypt to false',
  )
}

/** The path of each program asked for; a clear error naming the build command when one is missing. */
export async function findKubePrograms<T extends KubeProgram>(
  names: readonly T[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<T, string>> {
  const dir = kubeBinDir(env)
  const out = {} as Record<T, string>
  for (const name of names) {
    const path = join(dir, name)
    try {
      await access(path, constants.X_OK)
    } catch {
      throw new HomecloudError(
        'KUBE_NOT_INSTALLED',
        `${name} is not in ${dir}`,
        'build the pinned Kubernetes components once: images/kubernetes/build.sh (cached afterwards), or set HOMECLOUD_KUBE_BIN',
      )
    }
    out[name] = path
  }
  return out
}
