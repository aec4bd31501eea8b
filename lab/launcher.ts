import { mkdir, readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { HomecloudError } from '../agent/core/errors.js'
import { listProfiles } from '../agent/facts/index.js'
import type { ImageArch } from '../agent/netboot/arch.js'
import { nodeUrl } from './access.js'
import { chooseBoards, loopbackAddress, netnsAddress } from './boards.js'
import { claimLabIndex, labIndexHeldByOther, releaseLabIndex } from './index-lock.js'
import { cleanKubeletNode } from './kubelet-node.js'
import { type LabFile, type LabNode, readLabFile, writeLabFile } from './lab-file.js'
import { labSoftware } from './netboot/image.js'
import { removeLabTaps, startLabRouter } from './netboot/network.js'
import { publishLabReleases } from './netboot/release.js'
import { labNetworkAdapter } from './network.js'
import { nodeDir, startNewNode } from './node-start.js'
import { findLabProcesses, isLabProcess, killHard, processEnded } from './processes.js'
import { meshConverged, waitFor } from './wait.js'

/** How much of a dead agent's log the lab prints. */
const EXITED_LOG_TAIL_LINES = 20

// The lab's face (what cli/commands/lab.ts and the tests use): up, add, down. One node's
// start is node-start.ts, faults (unplug, plug, cut, heal) faults.ts, access access.ts.
export { findNode, labCaPem, labKubeconfig, labPassword, nodeHttpsUrl, nodeUrl } from './access.js'
export { labCut, labHeal, labPlug, labUnplug } from './faults.js'
export { labLoadBalancerRange } from './node-start.js'

export interface LabUpOptions {
  dir: string
  nodes?: number
  boards?: string
  netns?: boolean
  /** Extra agent config merged into every node's config (tests use it for timings). */
  agentConfig?: Record<string, unknown>
  joinPolicy?: 'auto' | 'approve'
  /** Node certificate lifetime (tests of renewal use seconds). */
  certValidityMs?: number
  /** Run Kubernetes on every node (kwok in place of kubelets); `homecloud lab up` does by default. */
  kube?: boolean
  timeoutMs?: number
  progress?: (line: string) => void
  /** Netns only: every node answers netboot (dnsmasq in its namespace), and a router hands VMs addresses. */
  netboot?: boolean
  /** The netboot image; default: images/netboot/build.sh (cached). Published as the lab's release. */
  imageDir?: string
  /** The lowest lab index to claim (default 1): a long test may keep clear of the busy low ones. */
  firstIndex?: number
  /** The node the lab's release is uploaded to (default: the first); the others fetch it from peers. */
  releaseOrigin?: string
  /**
   * Two boot slots per node (A/B upgrades): each node's slot a holds the lab's release
   * (the netboot image's agent bundle, unpacked) and the lab firmware boots it from there.
   */
  slots?: boolean
  /**
   * Architectures the nodes serve (default amd64): one image each, each published as a
   * release of its own; `lab add --vm --arch` needs its architecture here.
   */
  netbootArchs?: ImageArch[]
}

/**
 * Starts a whole cluster on this machine: one agent process per simulated board,
 * each on its own loopback address (or in its own network namespace), and waits
 * until every node sees every other.
 */
export async function labUp(opts: LabUpOptions): Promise<LabFile> {
  const dir = resolve(opts.dir)
  const progress = opts.progress ?? (() => {})
  const existing = await readLabFile(dir).catch(() => null)
  if (existing && (await findLabProcesses(dir)).length > 0) {
    throw new HomecloudError(
      'LAB_INVALID',
      `a lab is already running in ${dir}`,
      'use `homecloud lab status` or `homecloud lab down` first',
    )
  }
  if (existing) {
    // A new `lab up` founds a new cluster: the old one's nodes go.
    await labDown(dir)
    await rm(join(dir, 'nodes'), { recursive: true, force: true })
  }
  const boards = chooseBoards({ nodes: opts.nodes, boards: opts.boards }, await listProfiles())
  const mode = opts.netns ? 'netns' : 'loopback'
  if (opts.netboot && mode !== 'netns') {
    throw new HomecloudError('LAB_INVALID', 'netboot needs a namespace lab', 'add --netns (as root)')
  }
  // Before anything is started: the first build takes a minute or two, later ones are instant.
  const software = await labSoftware(dir, opts, progress)
  await mkdir(dir, { recursive: true })
  const index = await claimLabIndex(
    dir,
    (i) => (mode === 'netns' ? netnsAddress(i, 1) : loopbackAddress(i, 1)),
    opts.firstIndex,
  )
  // No id yet: the founder (node 1) creates the cluster and its id (printed then).
  const lab: LabFile = {
    v: 1,
    dir,
    mode,
    index,
    clusterId: '',
    clusterName: 'lab',
    kube: opts.kube ?? false,
    nodes: [],
    ...software,
    vms: [],
  }
  await writeLabFile(lab)
  try {
    if (mode === 'netns') {
      progress(`creating network: bridge and ${boards.length} namespaces in 10.77.${index}.0/24`)
      await labNetworkAdapter.create(index, boards.length)
      if (lab.netboot) {
        const dirs = [lab.netboot.imageDir, ...lab.netboot.otherArchs.map((o) => o.imageDir)]
        progress(`netboot: router (DHCP for VMs, IPv6 RA) on the bridge; images ${dirs.join(', ')}`)
        await startLabRouter(index, dir)
      }
    }
    progress(`starting ${boards.length} agents`)
    for (const [i, board] of boards.entries()) await startNewNode(lab, board, i + 1, opts.agentConfig, opts)
    await writeLabFile(lab)
    await waitConverged(lab, opts.timeoutMs ?? 60_000 + 2_000 * boards.length, progress)
    if (lab.netboot || lab.slots) {
      await publishLabReleases(lab, { origin: opts.releaseOrigin, progress })
      await writeLabFile(lab)
    }
  } catch (err) {
    progress(`lab failed to start, cleaning up: ${(err as Error).message}`)
    await labDown(dir).catch(() => {})
    throw err
  }
  return lab
}

async function waitConverged(lab: LabFile, timeoutMs: number, progress: (l: string) => void): Promise<void> {
  const running = lab.nodes.filter((n) => n.pid !== null)
  const urls = new Map(running.map((n) => [n.name, nodeUrl(n)]))
  await waitFor(
    async () => {
      for (const n of running) {
        // An agent that died will never converge: say so now, not after the whole timeout.
        if (n.pid && (await processEnded(n.pid))) throw await nodeExited(lab, n.name)
      }
      // Netbooted VMs still powered on are members too.
      const vms: string[] = []
      for (const v of (await readLabFile(lab.dir).catch(() => lab)).vms) {
        if (v.pid && (await isLabProcess(v.pid, lab.dir))) vms.push(v.name)
      }
      return meshConverged(urls, new Set([...running.map((n) => n.name), ...vms]))
    },
    { timeoutMs, progress },
  )
}

/** The error for an agent that exited during a wait, with the end of its log. */
async function nodeExited(lab: LabFile, name: string): Promise<HomecloudError> {
  const log = join(nodeDir(lab, name), 'agent.log')
  const tail = await readFile(log, 'utf8').then(
    (t) => t.trimEnd().split('\n').slice(-EXITED_LOG_TAIL_LINES).join('\n'),
    () => '(no log written)',
  )
  return new HomecloudError(
    'LAB_NODE_EXITED',
    `${name} exited before the lab converged; the end of ${log}:\n${tail}`,
    `read ${log}, fix the cause, then \`homecloud lab down\` and start the lab again`,
  )
}

export async function labAdd(
  dirIn: string,
  board: string,
  opts: Pick<LabUpOptions, 'agentConfig' | 'progress' | 'timeoutMs'> & {
    wait?: boolean
    /** Run the real kubelet + containerd (namespace labs with Kubernetes, as root). */
    kubelet?: boolean
  } = {},
): Promise<LabNode> {
  const lab = await readLabFile(resolve(dirIn))
  chooseBoards({ boards: board }, await listProfiles())
  if (opts.kubelet && (lab.mode !== 'netns' || !lab.kube)) {
    throw new HomecloudError(
      'LAB_INVALID',
      'a real kubelet needs a namespace lab running Kubernetes (it refuses a loopback node address)',
      'start the lab with `homecloud lab up --netns` (as root), then `lab add BOARD --kubelet`',
    )
  }
  const slot = Math.max(0, ...lab.nodes.map((n) => n.slot)) + 1
  if (lab.mode === 'netns') await labNetworkAdapter.addNode(lab.index, slot)
  const node = await startNewNode(lab, board, slot, opts.agentConfig, {}, opts.kubelet)
  await writeLabFile(lab)
  if (opts.wait !== false) await waitConverged(lab, opts.timeoutMs ?? 60_000, opts.progress ?? (() => {}))
  return node
}

/** Stops everything the lab started, found by environment marker, even after a launcher crash. */
export async function labDown(dirIn: string): Promise<{ killed: number }> {
  const dir = resolve(dirIn)
  const lab = await readLabFile(dir).catch(() => null)
  let killed = 0
  for (const pid of await findLabProcesses(dir)) if (await killHard(pid, dir)) killed++
  if (lab) {
    for (const n of lab.nodes) if (n.kubelet) await cleanKubeletNode(n.stateDir, n.kubelet.cgroupRoot)
    // An old lab directory (stopped before, or `lab up` again in it) may name an index that
    // another lab holds now: its namespaces are that lab's, not ours to remove.
    if (lab.mode === 'netns' && !(await labIndexHeldByOther(lab.index, dir))) {
      // Taps are persistent: they outlive qemu and the bridge.
      await removeLabTaps(lab.index)
      await labNetworkAdapter.destroy(lab.index)
    }
    for (const n of lab.nodes) n.pid = null
    for (const v of lab.vms) v.pid = null
    await writeLabFile(lab)
    await releaseLabIndex(lab.index, dir)
  }
  return { killed }
}

export async function labRemoveDir(dir: string): Promise<void> {
  await labDown(dir)
  await rm(resolve(dir), { recursive: true, force: true })
}
