import { existsSync } from 'node:fs'
import { readdir, readFile, readlink, rmdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import { sleep, systemClock } from '../agent/core/clock.js'

const labClock = systemClock({ keepAlive: true })

// A lab node running the real kubelet + containerd leaves more behind than its process
// group when it is unplugged: containers (children of containerd's shims, which detach
// on purpose so containers outlive a containerd restart), overlay, shm, tmpfs and netns
// mounts, and the pods' cgroups. A real board losing power loses all of it, so unplug
// and `lab down` remove it the same way: kill every process in the node's own cgroup
// subtree and every shim of its containerd, then unmount and remove what is left.

/** The pod cgroup root a lab gives its kubelet node: unique per lab and node. */
export function labCgroupRoot(labIndex: number, nodeName: string): string {
  return `/homecloud-lab${labIndex}-${nodeName}`
}

/** Mount points under `prefix`, deepest first (pure; /proc/self/mountinfo's 5th field). */
export function mountsUnder(mountinfo: string, prefix: string): string[] {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`
  const points = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, ' '))
    .filter((m) => m === prefix || m.startsWith(base))
  return [...new Set(points)].sort((a, b) => b.length - a.length)
}

async function cgroupDirs(root: string): Promise<string[]> {
  const base = '/sys/fs/cgroup'
  const tops = existsSync(join(base, 'cgroup.controllers'))
    ? [base]
    : (await readdir(base).catch(() => [] as string[])).map((d) => join(base, d))
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    if (!existsSync(join(dir, 'cgroup.procs'))) return
    out.push(dir)
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => []))
      if (e.isDirectory()) await walk(join(dir, e.name))
  }
  for (const t of tops) await walk(join(t, root))
  return out.sort((a, b) => b.length - a.length)
}

async function pidsIn(dirs: string[]): Promise<number[]> {
  const pids = new Set<number>()
  for (const d of dirs) {
    const text = await readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '')
    for (const l of text.split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l))
  }
  return [...pids]
}

/** containerd's shims for this node: their command line names its socket. */
async function shimPids(socket: string): Promise<number[]> {
  const out: number[] = []
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '')
    if (cmd.includes('containerd-shim') && cmd.split('\0').includes(socket)) out.push(Number(d))
  }
  return out
}

const kill = (pid: number): void => {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Everything a kubelet lab node's runtime left behind, gone; safe to call twice. */
export async function cleanKubeletNode(stateDir: string, cgroupRoot: string): Promise<void> {
  const socket = join(stateDir, 'kube', 'runtime', 'containerd.sock')
  for (let round = 0; round < 50; round++) {
    const pids = [...(await pidsIn(await cgroupDirs(cgroupRoot))), ...(await shimPids(socket))]
    if (pids.length === 0) break
    for (const p of pids) kill(p)
    await sleep(labClock, 100)
  }
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  for (const m of mountsUnder(mountinfo, stateDir))
    await execa('umount', ['-l', m], { reject: false, timeout: 10_000 })
  for (const d of await cgroupDirs(cgroupRoot)) await rmdir(d).catch(() => {})
  await removeContainerLogLinks(stateDir)
}

/** The kubelet links every container's log into the host's one /var/log/containers; a lab's links point into its node's state. */
const CONTAINER_LOG_LINKS = '/var/log/containers'

async function removeContainerLogLinks(stateDir: string): Promise<void> {
  for (const name of await readdir(CONTAINER_LOG_LINKS).catch(() => [] as string[])) {
    const link = join(CONTAINER_LOG_LINKS, name)
    const target = await readlink(link).catch(() => '')
    if (target.startsWith(`${stateDir}/`)) await unlink(link).catch(() => {})
  }
}
