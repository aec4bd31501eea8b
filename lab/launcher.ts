import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { PORTS } from '../agent/config/schema.js'
import { systemClock } from '../agent/core/clock.js'
import { HomecloudError } from '../agent/core/errors.js'
import { writeFileAtomic } from '../agent/core/files.js'
import { generatePassword } from '../agent/core/password.js'
import { listProfiles } from '../agent/facts/index.js'
import { loadOrCreateIdentity } from '../agent/identity/identity.js'
import { adminKubeconfigFrom } from '../agent/kube/admin-kubeconfig.js'
import { pkiPaths } from '../agent/pki/store.js'
import { writeInitialReleaseKeys } from '../agent/release/writes.js'
import { statePaths } from '../agent/state/paths.js'
import { readAdminConfig } from '../agent/trust/admin-config.js'
import { foundCluster } from '../agent/trust/founding.js'
import { readJoinMaterial, writeJoinMaterial } from '../agent/trust/join-material.js'
import { chooseBoards, loopbackAddress, netnsAddress, nodeName } from './boards.js'
import { claimLabIndex, labIndexHeldByOther, releaseLabIndex } from './index-lock.js'
import { cleanKubeletNode, labCgroupRoot } from './kubelet-node.js'
import { type LabFile, type LabNode, readLabFile, writeLabFile } from './lab-file.js'
import { ensureNetbootImage } from './netboot/image.js'
import { removeLabTaps, startLabRouter } from './netboot/network.js'
import { labReleaseKey, prepareLabRelease, publishLabRelease } from './netboot/release.js'
import { labNetworkAdapter } from './network.js'
import { findLabProcesses, isLabProcess, killHard, spawnAgent } from './processes.js'
import { meshConverged, waitFor } from './wait.js'

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
}

const API_PORT = 7080
const DHT_PORT = 49737

export function nodeUrl(node: Pick<LabNode, 'address'>): string {
  return `http://${node.address}:${API_PORT}/`
}

/** The node's HTTPS status page (login and actions); its certificate is from the lab's CA. */
export function nodeHttpsUrl(node: Pick<LabNode, 'address'>): string {
  return `https://${node.address}:${PORTS.https}/`
}

/** The lab cluster's CA (what a browser must trust for the HTTPS page), from the founder. */
export async function labCaPem(lab: Pick<LabFile, 'nodes'>): Promise<string> {
  const founder = lab.nodes[0]
  if (!founder) throw new HomecloudError('LAB_INVALID', 'the lab has no nodes')
  return readFile(pkiPaths(founder.stateDir).caCert, 'utf8')
}

function nodeDir(lab: Pick<LabFile, 'dir'>, name: string): string {
  return join(lab.dir, 'nodes', name)
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
  const imageDir = opts.netboot
    ? (opts.imageDir ?? (await ensureNetbootImage(progress, { kube: opts.kube ?? false })))
    : undefined
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
    netboot: imageDir
      ? { imageDir: resolve(imageDir), releaseDir: await prepareLabRelease(dir, resolve(imageDir)) }
      : undefined,
    vms: [],
  }
  await writeLabFile(lab)
  try {
    if (mode === 'netns') {
      progress(`creating network: bridge and ${boards.length} namespaces in 10.77.${index}.0/24`)
      await labNetworkAdapter.create(index, boards.length)
      if (lab.netboot) {
        progress(`netboot: router (DHCP for VMs, IPv6 RA) on the bridge; image ${lab.netboot.imageDir}`)
        await startLabRouter(index, dir)
      }
    }
    progress(`starting ${boards.length} agents`)
    for (const [i, board] of boards.entries()) await startNewNode(lab, board, i + 1, opts.agentConfig, opts)
    await writeLabFile(lab)
    await waitConverged(lab, opts.timeoutMs ?? 60_000 + 2_000 * boards.length, progress)
    if (lab.netboot?.releaseDir) {
      const r = await publishLabRelease(lab, lab.netboot.releaseDir, { origin: opts.releaseOrigin, progress })
      lab.netboot.releaseId = r.id
      await writeLabFile(lab)
    }
  } catch (err) {
    progress(`lab failed to start, cleaning up: ${(err as Error).message}`)
    await labDown(dir).catch(() => {})
    throw err
  }
  return lab
}

/**
 * A namespace lab's LoadBalancer Services get addresses on its bridge: 10.77.<lab>.64/27,
 * above the nodes (.2 upwards) and below the netboot router's DHCP range (.100–.250).
 */
export function labLoadBalancerRange(labIndex: number): string {
  return `10.77.${labIndex}.64/27`
}

function labKubeExtras(lab: LabFile): Record<string, unknown> {
  return lab.mode === 'netns' ? { loadBalancer: { addresses: [labLoadBalancerRange(lab.index)] } } : {}
}

async function startNewNode(
  lab: LabFile,
  board: string,
  slot: number,
  extra: Record<string, unknown> = {},
  founding: Pick<LabUpOptions, 'joinPolicy' | 'certValidityMs' | 'progress'> = {},
  kubelet = false,
): Promise<LabNode> {
  const name = nodeName(board, slot)
  const cgroupRoot = kubelet ? labCgroupRoot(lab.index, name) : undefined
  const address = lab.mode === 'netns' ? netnsAddress(lab.index, slot) : loopbackAddress(lab.index, slot)
  const dir = nodeDir(lab, name)
  const stateDir = join(dir, 'state')
  await mkdir(stateDir, { recursive: true, mode: 0o700 })
  // The lab provisions each node as a netboot server would: the first founds the
  // cluster (CA, join secret); every later one gets join material and joins by itself.
  // Identities are made up front so later nodes can be handed the keys of earlier ones.
  const { identity } = await loadOrCreateIdentity(statePaths(stateDir).identityKey)
  if (lab.nodes.length === 0) {
    const founded = await foundCluster({
      stateDir,
      clusterName: lab.clusterName,
      nodeName: name,
      host: address,
      joinPolicy: founding.joinPolicy ?? 'auto',
      certValidityMs: founding.certValidityMs,
      uiPassword: await labPassword(lab.dir),
      clock: systemClock(),
    })
    lab.clusterId = founded.clusterId
    founding.progress?.(`${name} founded cluster ${lab.clusterName} (${founded.clusterId})`)
    await copyFile(founded.adminConfig, join(lab.dir, 'admin.json'))
    // Every lab trusts its own release key (lab/netboot/release.ts publishes with it).
    await writeInitialReleaseKeys(stateDir, founded.clusterId, [(await labReleaseKey(lab.dir)).publicHex])
  } else {
    const founder = lab.nodes[0]!
    const material = await readJoinMaterial(statePaths(founder.stateDir).joinFile)
    if (!material) throw new HomecloudError('LAB_INVALID', `the founder ${founder.name} has no join material`)
    await writeJoinMaterial(statePaths(stateDir).joinFile, {
      ...material,
      // In namespaces nodes find each other by mDNS alone, as on a real LAN.
      bootstrap: lab.mode === 'netns' ? [] : lab.nodes.map((n) => `${n.key}@${n.address}:${DHT_PORT}`),
    })
  }
  // Loopback has no multicast between addresses, so loopback nodes start from the
  // nodes already running; in namespaces they find each other with mDNS alone.
  const bootstrap = lab.mode === 'netns' ? [] : lab.nodes.map((n) => `${n.key}@${n.address}:${DHT_PORT}`)
  const extraBootstrap = Array.isArray(extra.bootstrap) ? (extra.bootstrap as string[]) : []
  const config = {
    host: address,
    name,
    board,
    mdns: lab.mode === 'netns',
    fsyncProbe: false,
    // All loopback nodes share 127.0.0.1: each node's API load balancer listens on its own address.
    ...(lab.kube
      ? { kube: { enabled: true, kubelet: 'kwok', lb: { host: address }, ...labKubeExtras(lab) } }
      : {}),
    ...extra,
    ...(cgroupRoot
      ? {
          kube: {
            ...labKubeExtras(lab),
            ...(extra.kube as object | undefined),
            enabled: true,
            kubelet: 'kubelet',
            lb: { host: address },
            runtime: { ...((extra.kube as { runtime?: object } | undefined)?.runtime ?? {}), cgroupRoot },
            // wireguard-go names its control socket in /var/run/wireguard after the device:
            // lab nodes share that directory, so each gets its own device name.
            podNetwork: {
              interface: `hw${lab.index}n${slot}`,
              ...(extra.kube as { podNetwork?: object } | undefined)?.podNetwork,
            },
          },
        }
      : {}),
    // Tests may set netboot options (adoption, known MACs) on top of the lab's image.
    ...(lab.netboot
      ? {
          netboot: {
            // No image directory: each node serves the lab's current release from its own store.
            enabled: true,
            ...(extra.netboot as object | undefined),
          },
        }
      : {}),
    bootstrap: [...bootstrap, ...extraBootstrap],
  }
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
  const node: LabNode = {
    name,
    board,
    slot,
    address,
    stateDir,
    pid: null,
    key: identity.publicKey.toString('hex'),
    ...(cgroupRoot ? { kubelet: { cgroupRoot } } : {}),
  }
  node.pid = launch(lab, node)
  lab.nodes.push(node)
  return node
}

function launch(lab: LabFile, node: LabNode): number {
  const dir = nodeDir(lab, node.name)
  return spawnAgent({
    labDir: lab.dir,
    stateDir: node.stateDir,
    configPath: join(dir, 'config.json'),
    logPath: join(dir, 'agent.log'),
    netns: lab.mode === 'netns' ? labNetworkAdapter.namespace(lab.index, node.slot) : undefined,
    netOnly: !!node.kubelet,
  })
}

async function waitConverged(lab: LabFile, timeoutMs: number, progress: (l: string) => void): Promise<void> {
  const running = lab.nodes.filter((n) => n.pid !== null)
  const urls = new Map(running.map((n) => [n.name, nodeUrl(n)]))
  await waitFor(
    async () => {
      for (const n of running) {
        if (n.pid && !(await isLabProcess(n.pid, lab.dir))) {
          return `${n.name} exited: see ${join(nodeDir(lab, n.name), 'agent.log')}`
        }
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

function findNode(lab: LabFile, name: string): LabNode {
  const node = lab.nodes.find((n) => n.name === name)
  if (!node) {
    throw new HomecloudError(
      'LAB_INVALID',
      `no node "${name}" in this lab`,
      `nodes: ${lab.nodes.map((n) => n.name).join(', ')}`,
    )
  }
  return node
}

/** SIGKILL with no warning, like pulling the cable; the node keeps its state directory. */
export async function labUnplug(dirIn: string, name: string): Promise<LabNode> {
  const lab = await readLabFile(resolve(dirIn))
  const node = findNode(lab, name)
  if (node.pid === null || !(await isLabProcess(node.pid, lab.dir))) {
    throw new HomecloudError(
      'LAB_INVALID',
      `${name} is already unplugged`,
      `plug it back with \`homecloud lab plug ${name}\``,
    )
  }
  await killHard(node.pid, lab.dir)
  // A board losing power loses its containers too.
  if (node.kubelet) await cleanKubeletNode(node.stateDir, node.kubelet.cgroupRoot)
  node.pid = null
  await writeLabFile(lab)
  return node
}

/** Power the node back on with the same state directory (same identity). */
export async function labPlug(dirIn: string, name: string): Promise<LabNode> {
  const lab = await readLabFile(resolve(dirIn))
  const node = findNode(lab, name)
  if (node.pid !== null && (await isLabProcess(node.pid, lab.dir))) {
    throw new HomecloudError('LAB_INVALID', `${name} is already running`)
  }
  node.pid = launch(lab, node)
  await writeLabFile(lab)
  return node
}

/**
 * Cuts a node off the network (namespace labs only): its link goes down at the bridge,
 * the agent keeps running and sees everyone vanish, as everyone sees it vanish.
 */
export async function labCut(dirIn: string, name: string): Promise<LabNode> {
  const { lab, node } = await netnsNode(dirIn, name, 'cut')
  await labNetworkAdapter.cut(lab.index, node.slot)
  return node
}

/** Puts a cut node's link back up. */
export async function labHeal(dirIn: string, name: string): Promise<LabNode> {
  const { lab, node } = await netnsNode(dirIn, name, 'heal')
  await labNetworkAdapter.heal(lab.index, node.slot)
  return node
}

async function netnsNode(
  dirIn: string,
  name: string,
  verb: string,
): Promise<{ lab: LabFile; node: LabNode }> {
  const lab = await readLabFile(resolve(dirIn))
  const node = findNode(lab, name)
  if (lab.mode !== 'netns') {
    throw new HomecloudError(
      'LAB_INVALID',
      `cannot ${verb} ${name}: links exist only in a namespace lab`,
      'start the lab with `homecloud lab up --netns` (root), or use `lab unplug` to stop a node',
    )
  }
  return { lab, node }
}

/** The lab's admin kubeconfig through a node's load balancer (each lab node's is on its own address). */
export async function labKubeconfig(dirIn: string, nodeName?: string): Promise<string> {
  const lab = await readLabFile(resolve(dirIn))
  if (!lab.kube) {
    throw new HomecloudError(
      'LAB_INVALID',
      'this lab runs no Kubernetes',
      'start one with `homecloud lab up` (without --no-kube)',
    )
  }
  const running = []
  for (const n of lab.nodes) if (n.pid !== null && (await isLabProcess(n.pid, lab.dir))) running.push(n)
  const node = nodeName ? findNode(lab, nodeName) : running[0]
  if (!node) throw new HomecloudError('LAB_INVALID', 'no lab node is running', '`homecloud lab plug NAME`')
  return adminKubeconfigFrom(await readAdminConfig(join(lab.dir, 'admin.json')), { host: node.address })
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

/** The lab's status-page password: made once, kept in DIR/password.txt (0600) for the user. */
export async function labPassword(dir: string): Promise<string> {
  const path = join(dir, 'password.txt')
  const existing = await readFile(path, 'utf8').catch(() => '')
  if (existing.trim()) return existing.trim()
  const pw = generatePassword()
  await writeFileAtomic(path, `${pw}\n`, 0o600)
  return pw
}
