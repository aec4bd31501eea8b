import { join } from 'node:path'
import { execa } from 'execa'
import { packageRoot } from '../../agent/core/package-root.js'

// Other etcd releases than the pinned one, for the upgrade test and the benchmark's
// baseline: images/etcd/build.sh builds 3.5 from source (about 30 s cold, cached) and
// unpacks Debian's 3.4 from its .debs (seconds, cached). Returns the bin directory.

export type OtherRelease = '3.4' | '3.5'

export async function etcdBuild(release: OtherRelease | '3.6'): Promise<string> {
  const script = join(packageRoot(), 'images', 'etcd', 'build.sh')
  const r = await execa('bash', [script, '--release', release], { reject: false, stdin: 'ignore' })
  if (r.exitCode !== 0) {
    throw new Error(`images/etcd/build.sh --release ${release} failed:\n${String(r.stderr).slice(-2000)}`)
  }
  const dir = String(r.stdout).trim().split('\n').at(-1)
  if (!dir) throw new Error(`images/etcd/build.sh --release ${release} printed no directory`)
  return dir
}
