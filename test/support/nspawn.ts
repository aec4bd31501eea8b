import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../../agent/core/package-root.js'
import { LAB_ENV } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'

// A Debian machine with systemd as PID 1, for tests of what runs on one (`homecloud
// install`): the root that images/systemd-root/build.sh makes (cached by its inputs),
// booted by systemd-nspawn on an overlay (the cached root stays untouched; the overlay's
// upper directory shows every file the machine changed), in a network namespace the test
// made. Commands run inside through nsenter into the container's namespaces: machinectl
// and systemd-run -M need systemd-machined on the host, and this host's init is not systemd.

/** What systemd (252, Debian 12) gives a system service and what a root login has: no HOME, this PATH. */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export interface Bind {
  host: string
  /** Where it appears inside; the same path by default. */
  inside?: string
}

export interface MachineInit {
  /** The test's own directory (named like a test lab, so the suite's reaper finds what it left). */
  dir: string
  name: string
  /** A network namespace the test made (`ip netns add`): the machine's only network. */
  netns: string
  rootfs: string
  /** Read-only bind mounts (the checkout, Node.js, etcd: what the unit runs). */
  binds: Bind[]
}

export interface Machine {
  name: string
  /** The container's PID 1 (systemd) as the host sees it. */
  leader: number
  /** The overlay's upper directory: every file the machine wrote, as the host sees it. */
  upper: string
  console: string
  /** Runs a command inside (clean environment, cwd /); never throws for a failing command. */
  run: (args: string[], timeoutMs?: number) => { code: number; out: string; stdout: string }
  /** Stops the container (SIGKILL to its PID 1 ends every process in it) and unmounts its root. */
  destroy: () => void
}

/** The cached root, built on first use (about a minute cold; progress on stderr). */
export function systemdRoot(progress: (line: string) => void): string {
  const script = join(packageRoot(), 'images', 'systemd-root', 'build.sh')
  const r = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  for (const l of r.stderr.trim().split('\n')) if (l) progress(l)
  if (r.status !== 0) throw new Error(`images/systemd-root/build.sh failed:\n${r.stderr.slice(-2000)}`)
  const dir = r.stdout.trim().split('\n').at(-1)
  if (!dir) throw new Error('images/systemd-root/build.sh printed no directory')
  return dir
}

function mountOverlay(rootfs: string, dir: string): { merged: string; upper: string } {
  const upper = join(dir, 'upper')
  const work = join(dir, 'work')
  const merged = join(dir, 'merged')
  const r = spawnSync(
    'mount',
    ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${upper},workdir=${work}`, merged],
    { encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(`mounting the machine's overlay root failed: ${r.stderr}`)
  return { merged, upper }
}

/**
 * A cgroup of the machine's own in each hierarchy systemd uses (this host: the named v1
 * one and cgroup2 at unified/, where nspawn reads its own cgroup from; a cgroup2-only host:
 * the root), so nspawn makes its payload/supervisor cgroups and the machine's systemd its
 * slices under it, not at the host's root, and every process of the machine is found there.
 */
function makeCgroups(name: string): string[] {
  const fs = '/sys/fs/cgroup'
  const tops = existsSync(join(fs, 'cgroup.controllers'))
    ? [fs]
    : [join(fs, 'systemd'), join(fs, 'unified')].filter((d) => existsSync(join(d, 'cgroup.procs')))
  return tops.map((top) => {
    const dir = join(top, `homecloud-test-${name}`)
    mkdirSync(dir, { recursive: true })
    return dir
  })
}

/** SIGKILL to every process in the cgroup tree, then the tree removed (retried while they exit). */
function removeCgroup(dir: string): void {
  const subtree = (d: string): string[] => [
    ...readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => subtree(join(d, e.name))),
    d,
  ]
  for (let attempt = 0; attempt < 40 && existsSync(dir); attempt++) {
    for (const d of subtree(dir)) {
      for (const pid of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {}
      }
      try {
        rmdirSync(d)
      } catch {}
    }
    if (existsSync(dir)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
  }
}

/** The container's PID 1: nspawn's child whose PID inside its namespace is 1. */
async function findLeader(nspawn: ChildProcess): Promise<number> {
  let leader = 0
  await waitFor(
    async () => {
      if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited (${nspawn.exitCode})`)
      const kids = spawnSync('pgrep', ['-P', String(nspawn.pid)], { encoding: 'utf8' }).stdout
      for (const pid of kids.trim().split('\n').filter(Boolean)) {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
        const ns = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/)
        if (ns && ns.length > 1 && ns.at(-1) === '1') leader = Number(pid)
      }
      return leader > 0 ? true : 'no container init yet'
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
  return leader
}

/** Boots the machine and waits until systemd says it is up (running or degraded). */
export async function bootMachine(m: MachineInit): Promise<Machine> {
  const base = join(m.dir, 'machine')
  for (const d of ['upper', 'work', 'merged']) await mkdir(join(base, d), { recursive: true })
  const { merged, upper } = mountOverlay(m.rootfs, base)
  const console = join(m.dir, 'console.log')
  const out = openSync(console, 'a')
  const args = [
    '--quiet',
    '--boot',
    `--directory=${merged}`,
    `--machine=${m.name}`,
    // No systemd-machined on this host to register with or to make a scope: the machine
    // lives in the cgroup made for it.
    '--register=no',
    '--keep-unit',
    `--network-namespace-path=/run/netns/${m.netns}`,
    '--console=read-only',
    // In PID 1's environment, so the suite's reaper kills the machine if the test dies.
    `--setenv=${LAB_ENV}=${m.dir}`,
    ...m.binds.map((b) => `--bind-ro=${b.host}:${b.inside ?? b.host}`),
  ]
  const cgroups = makeCgroups(m.name)
  // The shell moves itself into the machine's cgroups, then becomes nspawn (same pid).
  const moveSelf = ['true', ...cgroups.map((_, i) => `echo $$ > "$${i + 1}/cgroup.procs"`)].join(' && ')
  const nspawn = spawn(
    'sh',
    ['-c', `${moveSelf} && shift ${cgroups.length} && exec systemd-nspawn "$@"`, 'sh', ...cgroups, ...args],
    { stdio: ['ignore', out, out], env: { ...process.env, [LAB_ENV]: m.dir } },
  )
  closeSync(out)
  let leader = 0
  const destroy = () => {
    if (leader > 0) {
      try {
        process.kill(leader, 'SIGKILL') // ends every process in its PID namespace
      } catch {}
    }
    if (nspawn.exitCode === null) nspawn.kill('SIGKILL')
    for (const c of cgroups) removeCgroup(c)
    spawnSync('umount', ['--lazy', merged])
    // nspawn's mount-propagation directory: it removes it only from a tmpfs /run, and this
    // host's /run is on disk ("we can't allow that"); empty once the machine is gone.
    try {
      rmdirSync(join('/run/systemd/nspawn/propagate', m.name))
    } catch {}
  }
  try {
    leader = await findLeader(nspawn)
    const machine: Machine = { name: m.name, leader, upper, console, run: runIn(leader), destroy }
    await waitFor(
      async () => {
        const s = machine.run(['systemctl', 'is-system-running'], 10_000).stdout.trim()
        if (s === 'running' || s === 'degraded') return true
        if (nspawn.exitCode !== null) throw new Error(`the machine stopped: see ${console}`)
        return `systemd says ${s || '(nothing)'}`
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    return machine
  } catch (err) {
    destroy()
    throw err
  }
}

function runIn(leader: number): Machine['run'] {
  return (args, timeoutMs = 60_000) => {
    const r = spawnSync(
      'nsenter',
      ['--target', String(leader), '--all', '--wd=/', 'env', '-i', `PATH=${SYSTEMD_PATH}`, ...args],
      { encoding: 'utf8', timeout: timeoutMs },
    )
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout ?? '' }
  }
}

/**
 * What the machine's own systemd writes to disk whatever runs: the persistent journal (a
 * unit's logs stay in it after the unit is gone, as with any removed package), timer stamps,
 * services' private /var/tmp.
 */
const SYSTEMD_OWN = ['/var/log/journal/', '/var/lib/systemd/timers/', '/var/tmp/systemd-private-']

/**
 * What the machine has now that it had not at `before` (a treeOf its upper directory):
 * new files, links and whiteouts (a deleted image file), systemd's own aside. A directory
 * of the image that was written into is copied up into the overlay and stays there, empty,
 * after the write is undone: that is not something left behind.
 */
export async function leftBehind(m: Machine, lower: string, before: string[]): Promise<string[]> {
  const had = new Set(before)
  return (await treeOf(m.upper)).filter(
    (p) =>
      !had.has(p) &&
      !SYSTEMD_OWN.some((o) => p.startsWith(o)) &&
      !(p.endsWith('/') && existsSync(join(lower, p))),
  )
}

/** Every path in a tree, directories marked with a trailing slash; [] when it does not exist. */
export async function treeOf(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return []
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .map((e) => join(e.parentPath, e.name).slice(dir.length) + (e.isDirectory() ? '/' : ''))
    .sort()
}
