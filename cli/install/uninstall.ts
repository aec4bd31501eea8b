import { existsSync } from 'node:fs'
import { lstat, readdir, rm, rmdir } from 'node:fs/promises'
import { relative, resolve, sep } from 'node:path'
import { readLocalState } from '../../agent/controlplane/local-state.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { readJsonFile } from '../../agent/core/json-file.js'
import { etcdFiles } from '../../agent/etcd/spec.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { statePaths } from '../../agent/state/paths.js'
import { InstallManifest, systemctl, systemdRunning } from './install.js'
import { installPaths, UNIT_NAME } from './unit.js'

// `homecloud uninstall`: the unit, its enable link, the state directory and every
// directory install created — nothing else, and nothing left. It refuses (unless
// --force) while the state holds what the cluster would lose with it.

/** What deleting this state directory would cost the cluster, one line each; [] when nothing. */
export async function whatWouldBeLost(stateDir: string): Promise<string[]> {
  const out: string[] = []
  const local = await readLocalState(stateDir).catch(() => null)
  if (local && local.status !== 'removed' && existsSync(etcdFiles(stateDir).dataDir))
    out.push(
      `this node's etcd member (${local.status}${local.memberId ? ` ${local.memberId}` : ''}) and its data: a voter's seat stays empty until placement replaces it, and a lone voter takes the cluster's control plane with it`,
    )
  if (existsSync(pkiPaths(stateDir).caKey))
    out.push(
      'the cluster CA key (this node signs certificates; without a copy elsewhere no new node can join)',
    )
  if (existsSync(statePaths(stateDir).clusterFile) && existsSync(statePaths(stateDir).identityKey))
    out.push("this node's identity and certificates (it can rejoin only as a new node)")
  return out
}

export interface UninstallOptions {
  root: string
  force: boolean
  progress?: (line: string) => void
}

export interface Uninstalled {
  removed: string[]
  /** What --force deleted that the cluster has lost. */
  lost: string[]
}

export async function uninstall(o: UninstallOptions): Promise<Uninstalled> {
  const say = o.progress ?? (() => {})
  const p = installPaths(resolve(o.root))
  const manifest = await readJsonFile(p.manifest, InstallManifest, {
    code: 'STATE_DIR',
    what: 'the install record (install.json)',
    hint: `remove ${p.unit}, ${p.wantsLink} and ${p.stateDir} by hand`,
  })
  if (!manifest && !existsSync(p.unit) && !existsSync(p.stateDir))
    throw new HomecloudError(
      'UNINSTALL_REFUSED',
      `homecloud is not installed under ${p.root}`,
      'nothing to remove (pass --root if it was installed elsewhere)',
    )
  const lost = await whatWouldBeLost(p.stateDir)
  if (lost.length > 0 && !o.force)
    throw new HomecloudError(
      'UNINSTALL_REFUSED',
      `uninstalling would delete ${lost.join('; ')}`,
      'nothing was changed; revoke this node from another member first (`homecloud revoke NAME`) and let placement move its seat, or back up the state directory — then rerun with --force',
    )
  if (systemdRunning(p.root)) {
    say('stopping and disabling homecloud.service')
    systemctl(['disable', '--now', UNIT_NAME])
  }
  const removed: string[] = []
  // Only what install writes, whatever install.json says (it lives in a writable directory).
  for (const f of [p.unit, p.wantsLink]) {
    if (existsSync(f) || (await isLink(f))) removed.push(f)
    await rm(f, { force: true })
  }
  await rm(p.stateDir, { recursive: true, force: true })
  removed.push(p.stateDir)
  // Directories install made, deepest first, only when nothing else lives there now.
  const made = (manifest?.dirs ?? []).filter(
    (d) => ancestorInside(p.root, d, p.stateDir) || ancestorInside(p.root, d, p.wantsDir),
  )
  for (const d of made.sort((a, b) => b.length - a.length)) {
    if (!existsSync(d)) continue
    if ((await readdir(d)).length > 0) continue
    await rmdir(d)
    removed.push(d)
  }
  if (systemdRunning(p.root)) systemctl(['daemon-reload'])
  say(`removed ${removed.length} paths`)
  return { removed, lost: o.force ? lost : [] }
}

async function isLink(path: string): Promise<boolean> {
  return lstat(path).then(
    (s) => s.isSymbolicLink(),
    () => false,
  )
}

/** `dir` is `of` or one of its parents, strictly inside `root` (never the root itself). */
function ancestorInside(root: string, dir: string, of: string): boolean {
  const inRoot = relative(root, dir)
  const toOf = relative(dir, of)
  return (
    inRoot !== '' &&
    !inRoot.startsWith('..') &&
    (toOf === '' || (!toOf.startsWith(`..${sep}`) && toOf !== '..'))
  )
}
