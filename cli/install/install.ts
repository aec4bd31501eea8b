import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { z } from 'zod'
import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { writeFileAtomic } from '../../agent/core/files.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { generatePassword } from '../../agent/core/password.js'
import { foundCluster } from '../../agent/trust/founding.js'
import { readJoinMaterial, writeJoinMaterial } from '../../agent/trust/join-material.js'
import { type InstallPaths, installPaths, UNIT_NAME, unitFile } from './unit.js'

// `homecloud install`: the state directory (a new cluster founded in it, or join
// material copied there), the agent's config, the systemd unit and its enable link; on a
// real machine (root `/`, systemd running) systemctl then starts it. What it wrote and
// which directories it created go to install.json, so uninstall leaves nothing behind.

export const InstallManifest = z.object({
  v: z.literal(1),
  root: z.string(),
  files: z.array(z.string()).max(16),
  /** Directories install made, deepest last; uninstall removes them (deepest first) when empty. */
  dirs: z.array(z.string()).max(32),
})
export type InstallManifest = z.infer<typeof InstallManifest>

export interface InstallOptions {
  root: string
  /** Join this cluster (its join.json) instead of founding a new one. */
  join?: string
  clusterName: string
  nodeName: string
  host: string
  /** Fix the agent's address in its config (--host); else it takes its first LAN address at each start. */
  fixHost?: boolean
  joinPolicy: 'auto' | 'approve'
  /** The status-page password (founding only); a random one is made and printed when absent. */
  password?: string
  /** Start the agent through systemctl (root `/` with systemd only). */
  start: boolean
  nodeBin?: string
  cli?: string
  progress?: (line: string) => void
}

export interface Installed {
  paths: InstallPaths
  unitText: string
  /** Set when a cluster was founded: what to print once. */
  founded?: { clusterId: string; nodeId: string; password?: string; adminConfig: string }
  started: boolean
}

/** mkdir -p that remembers which directories it made (outermost first). */
async function makeDirs(dir: string, made: string[], mode?: number): Promise<void> {
  const missing: string[] = []
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d)
  for (const d of missing) {
    await mkdir(d, mode === undefined || d !== resolve(dir) ? {} : { mode })
    made.push(d)
  }
}

function refuseReinstall(p: InstallPaths): void {
  const there = [p.unit, p.manifest, join(p.stateDir, 'cluster.json')].filter((f) => existsSync(f))
  if (there.length > 0)
    throw new HomecloudError(
      'INSTALL_EXISTS',
      `homecloud is already installed under ${p.root} (${there.join(', ')})`,
      'nothing was changed; run `homecloud uninstall` first (it refuses while this node holds cluster data it would lose)',
    )
}

/** On a real machine: is systemd the init system, so systemctl can be asked? */
export function systemdRunning(root: string): boolean {
  return resolve(root) === '/' && existsSync('/run/systemd/system')
}

export function systemctl(args: string[]): void {
  const r = spawnSync('systemctl', args, { encoding: 'utf8' })
  if (r.status !== 0)
    throw new HomecloudError(
      'INSTALL_FAILED',
      `systemctl ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`,
      'read `journalctl -u homecloud`; the files are in place, so `systemctl start homecloud` may be retried',
    )
}

/** Join material from a member, checked (readJoinMaterial's schema) before it is copied in. */
async function stateFromJoin(p: InstallPaths, from: string): Promise<void> {
  const m = await readJoinMaterial(from) // malformed: its own JOIN_MATERIAL_INVALID
  if (!m)
    throw new HomecloudError(
      'JOIN_MATERIAL_INVALID',
      `${from} does not exist`,
      "pass the join.json from a member of the cluster (the founder's state directory holds it)",
    )
  await writeJoinMaterial(join(p.stateDir, 'join.json'), m)
}

export async function install(o: InstallOptions): Promise<Installed> {
  const say = o.progress ?? (() => {})
  const p = installPaths(resolve(o.root))
  refuseReinstall(p)
  const dirs: string[] = []
  await makeDirs(p.stateDir, dirs, 0o700)
  await chmod(p.stateDir, 0o700)
  await makeDirs(p.wantsDir, dirs)
  // Written first: an install that fails halfway is still removed by uninstall.
  const manifest: InstallManifest = { v: 1, root: p.root, files: [p.unit, p.wantsLink], dirs }
  await writeFileAtomic(p.manifest, `${JSON.stringify(manifest, null, 2)}\n`)
  let founded: Installed['founded']
  try {
    await writeFileAtomic(
      p.config,
      `${JSON.stringify({ name: o.nodeName, ...(o.fixHost ? { host: o.host } : {}) }, null, 2)}\n`,
    )
    if (o.join) {
      say(`joining: copying ${o.join} into ${p.stateDir}`)
      await stateFromJoin(p, o.join)
    } else {
      say(`founding cluster ${o.clusterName} in ${p.stateDir}`)
      const password = o.password ?? generatePassword()
      const f = await foundCluster({
        stateDir: p.stateDir,
        clusterName: o.clusterName,
        nodeName: o.nodeName,
        host: o.host,
        joinPolicy: o.joinPolicy,
        uiPassword: password,
        clock: systemClock(),
      })
      founded = {
        clusterId: f.clusterId,
        nodeId: f.nodeId,
        adminConfig: f.adminConfig,
        ...(o.password ? {} : { password }),
      }
    }
    const unitText = unitFile({
      paths: p,
      nodeBin: o.nodeBin ?? process.execPath,
      cli: o.cli ?? join(packageRoot(), 'bin', 'homecloud.js'),
    })
    await writeFile(p.unit, unitText, { mode: 0o644 })
    // What `systemctl enable` makes: a relative link, so it holds inside any root.
    await symlink(relative(p.wantsDir, p.unit), p.wantsLink)
    say(`wrote ${p.unit} (enabled: ${p.wantsLink})`)
    let started = false
    if (o.start && systemdRunning(p.root)) {
      systemctl(['daemon-reload'])
      systemctl(['start', UNIT_NAME])
      started = true
      say('started homecloud.service (logs: journalctl -u homecloud)')
    }
    return { paths: p, unitText, started, ...(founded ? { founded } : {}) }
  } catch (err) {
    throw err instanceof HomecloudError
      ? err
      : new HomecloudError(
          'INSTALL_FAILED',
          `installing under ${p.root} failed: ${(err as Error).message}`,
          'fix the cause, then `homecloud uninstall --force` removes what was written and install can run again',
        )
  }
}
