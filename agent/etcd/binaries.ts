import { access, constants } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { HomecloudError } from '../core/errors.js'

// The one place that says where etcd, etcdctl and etcdutl are. They are built from
// source by `images/etcd/build.sh` at the pinned release below (kept in step with its
// PIN[3.6]) into a cache directory; the netboot image carries them and says where with
// HOMECLOUD_ETCD_BIN, which also lets a test or an operator point at another build.
// Nothing looks them up on PATH: a Debian etcd there is 3.4, out of support.

export const etcdVersion = 'v3.6.17'
export const ETCD_PROGRAMS = ['etcd', 'etcdctl', 'etcdutl'] as const
export type EtcdProgram = (typeof ETCD_PROGRAMS)[number]

export const etcdBuildHint =
  'build the pinned etcd once: images/etcd/build.sh (about a minute, cached afterwards), or set HOMECLOUD_ETCD_BIN'

/** Go's name for an architecture (the build cache's directory names). */
export function goArch(arch: string = process.arch): 'amd64' | 'arm64' {
  if (arch === 'x64') return 'amd64'
  if (arch === 'arm64') return 'arm64'
  throw new HomecloudError('ETCD_NOT_INSTALLED', `no etcd build for the ${arch} architecture`)
}

/**
 * The directory holding the programs: HOMECLOUD_ETCD_BIN, else the build cache for
 * `version` (another version only for the upgrade test and the benchmark's baseline).
 */
export function etcdBinDir(env: NodeJS.ProcessEnv = process.env, version = etcdVersion): string {
  if (env.HOMECLOUD_ETCD_BIN && version === etcdVersion) return env.HOMECLOUD_ETCD_BIN
  const cache = env.HOMECLOUD_CACHE ?? join(homedir(), '.cache', 'homecloud')
  return join(cache, 'etcd', version, goArch(), 'bin')
}

/** The path of one program (not checked: a missing one is named when it is started). */
export function etcdProgram(name: EtcdProgram, binDir: string = etcdBinDir()): string {
  return join(binDir, name)
}

/** The path of each program asked for; a clear error naming the build command when one is missing. */
export async function findEtcdPrograms<T extends EtcdProgram>(
  names: readonly T[],
  binDir: string = etcdBinDir(),
): Promise<Record<T, string>> {
  const out = {} as Record<T, string>
  for (const name of names) {
    const path = join(binDir, name)
    await access(path, constants.X_OK).catch(() => {
      throw notInstalled(path)
    })
    out[name] = path
  }
  return out
}

export function notInstalled(path: string): HomecloudError {
  return new HomecloudError('ETCD_NOT_INSTALLED', `${path} not found`, etcdBuildHint)
}
