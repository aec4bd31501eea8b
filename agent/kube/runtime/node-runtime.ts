import { existsSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { execa } from 'execa'
import type { Clock } from '../../core/clock.js'
import { HomecloudError } from '../../core/errors.js'
import { writeFileAtomic } from '../../core/files.js'
import type { LogLevel } from '../../core/lines.js'
import type { Logger } from '../../core/log.js'
import { Supervisor } from '../../core/supervisor.js'
import { cniConflist } from './cni-config.js'
import { containerdConfig } from './containerd-config.js'
import { type HostRuntimeFacts, readHostRuntimeFacts } from './host.js'
import { kubeProxyArgs, kubeProxyConfigPath, kubeProxyConfigText } from './kube-proxy-config.js'
import { containerdArgs, type KubeletSpec, kubeletArgs, kubeletConfigText } from './kubelet-config.js'

// A real Kubernetes node: containerd, then the pause image and any other image archives
// the node carries (imported, never pulled), the pod network's CNI config, then the
// kubelet. Both programs are children of the agent (one process group): a board losing
// power loses its kubelet with it, and the Node goes NotReady as its lease runs out.

/** What the kubelet is told (less the host facts, read at start), plus the runtime's own. */
export interface NodeRuntimeInit extends Omit<KubeletSpec, 'host'> {
  podCidr: string
  sandboxImage: string
  cniBinDirs: readonly string[]
  /** Directories of OCI image archives (`*.tar`) to import into containerd at start. */
  imageDirs: readonly string[]
  programs: { kubelet: string; containerd: string; ctr: string }
  env?: Record<string, string>
  /** How long containerd gets to open its socket. */
  containerdReadyMs?: number
  /** Pods' interface MTU: the tunnel's when the pod network is encrypted. */
  podMtu?: number
  /** kube-proxy (Services), started with the kubelet; absent: no Service routing here. */
  kubeProxy?: { binary: string; clusterCidr: string }
}

export interface NodeRuntimeComponents {
  clock: Clock
  log: Logger
  /** Host facts; read from /proc and /sys when not given (tests pass their own). */
  host?: () => Promise<HostRuntimeFacts>
}

const ctrNamespace = 'k8s.io' // the namespace the CRI plugin (and so the kubelet) sees

export class NodeRuntime {
  private containerd: Supervisor | null = null
  private kubelet: Supervisor | null = null
  private kubeProxy: Supervisor | null = null
  private imported: string[] = []

  constructor(
    private readonly init: NodeRuntimeInit,
    private readonly c: NodeRuntimeComponents,
  ) {}

  get running(): boolean {
    return this.kubelet !== null
  }

  status(): {
    containerd: string | null
    kubelet: string | null
    kubeProxy: string | null
    images: string[]
  } {
    return {
      containerd: this.containerd?.status().state ?? null,
      kubelet: this.kubelet?.status().state ?? null,
      kubeProxy: this.kubeProxy?.status().state ?? null,
      images: [...this.imported],
    }
  }

  /** Starts containerd, imports the images, writes the CNI config and starts the kubelet. */
  async start(): Promise<void> {
    if (this.kubelet) return
    const p = this.init.paths
    const host = await (this.c.host ?? readHostRuntimeFacts)()
    if (!host.cgroupV2)
      this.c.log.warn('cgroup v1 host: the kubelet runs with failCgroupV1=false (Kubernetes is dropping v1)')
    if (!host.canLowerOomScore)
      this.c.log.warn('no CAP_SYS_RESOURCE: containerd keeps pod OOM scores at or above its own')
    for (const dir of [p.dir, p.containerdRoot, p.containerdState, p.cniConfDir, p.kubeletRoot, p.podLogsDir])
      await mkdir(dir, { recursive: true, mode: 0o700 })
    await this.ensureCgroupRoot(host)
    const cniBin = this.init.cniBinDirs.find((d) => existsSync(join(d, 'bridge'))) ?? this.init.cniBinDirs[0]
    await writeFileAtomic(
      p.containerdConfig,
      containerdConfig({
        paths: p,
        sandboxImage: this.init.sandboxImage,
        cniBinDirs: cniBin ? [cniBin] : [],
        restrictOomScoreAdj: !host.canLowerOomScore,
        noPivotRoot: host.rootIsInitramfs,
      }),
      0o600,
    )
    this.containerd ??= new Supervisor(
      {
        name: 'containerd',
        binary: this.init.programs.containerd,
        args: containerdArgs(p),
        marker: `--config=${p.containerdConfig}`,
        pidFile: join(p.pidDir, 'containerd.pid'),
        ...(this.init.env ? { env: this.init.env } : {}),
        parseLine: parseContainerdLine,
        stopGraceMs: 10_000,
      },
      { logger: this.c.log, clock: this.c.clock },
    )
    await this.containerd.start()
    await this.waitForContainerd()
    await this.importImages()
    await writeFileAtomic(
      join(p.cniConfDir, '10-homecloud.conflist'),
      cniConflist(this.init.podCidr, this.init.podMtu),
      0o644,
    )
    const spec: KubeletSpec = { ...this.init, host }
    await writeFileAtomic(p.kubeletConfig, kubeletConfigText(spec), 0o600)
    const kubelet = new Supervisor(
      {
        name: 'kubelet',
        binary: this.init.programs.kubelet,
        args: kubeletArgs(spec),
        marker: `--config=${p.kubeletConfig}`,
        pidFile: join(p.pidDir, 'kubelet.pid'),
        ...(this.init.env ? { env: this.init.env } : {}),
        stopGraceMs: 10_000,
      },
      { logger: this.c.log, clock: this.c.clock },
    )
    await kubelet.start()
    this.kubelet = kubelet
    await this.startKubeProxy()
    this.c.log.info({ images: this.imported, podCidr: this.init.podCidr }, 'kubelet and containerd started')
  }

  private async startKubeProxy(): Promise<void> {
    const kp = this.init.kubeProxy
    if (!kp) return
    const p = this.init.paths
    const spec = {
      nodeName: this.init.nodeName,
      address: this.init.address,
      kubeconfig: this.init.kubeconfig,
      clusterCidr: kp.clusterCidr,
      paths: p,
    }
    await writeFileAtomic(kubeProxyConfigPath(p), kubeProxyConfigText(spec), 0o600)
    this.kubeProxy ??= new Supervisor(
      {
        name: 'kube-proxy',
        binary: kp.binary,
        args: kubeProxyArgs(p),
        marker: kubeProxyArgs(p)[0]!,
        pidFile: join(p.pidDir, 'kube-proxy.pid'),
        ...(this.init.env ? { env: this.init.env } : {}),
        stopGraceMs: 5000,
      },
      { logger: this.c.log, clock: this.c.clock },
    )
    await this.kubeProxy.start()
  }

  /** The kubelet first, so it does not report a runtime going away as a node problem. */
  async stop(): Promise<void> {
    await this.kubeProxy?.stop(5000)
    await this.kubelet?.stop(10_000)
    this.kubelet = null
    await this.containerd?.stop(10_000)
  }

  /** A non-root cgroupRoot must exist in every hierarchy before the kubelet starts. */
  private async ensureCgroupRoot(host: HostRuntimeFacts): Promise<void> {
    const root = this.init.cgroupRoot
    if (root === '/' || root === '') return
    const base = '/sys/fs/cgroup'
    const dirs = host.cgroupV2
      ? [base]
      : (await readdir(base, { withFileTypes: true }))
          .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'cgroup.procs')))
          .map((d) => join(base, d.name))
    for (const d of dirs) await mkdir(join(d, root), { recursive: true })
  }

  private ctr(args: string[], timeout = 30_000) {
    return execa(this.init.programs.ctr, ['--address', this.init.paths.containerdSocket, ...args], {
      reject: false,
      timeout,
      ...(this.init.env ? { env: this.init.env } : {}),
    })
  }

  private async waitForContainerd(): Promise<void> {
    const deadline = this.c.clock.monoMs() + (this.init.containerdReadyMs ?? 60_000)
    let last = ''
    while (this.c.clock.monoMs() < deadline) {
      if (existsSync(this.init.paths.containerdSocket)) {
        const r = await this.ctr(['version'], 5000)
        if (r.exitCode === 0) return
        last = String(r.stderr || r.stdout).slice(0, 300)
      }
      await new Promise<void>((resolve) => this.c.clock.setTimeout(resolve, 200))
    }
    throw new HomecloudError(
      'KUBE_RUNTIME',
      `containerd did not answer on ${this.init.paths.containerdSocket}${last ? `: ${last}` : ''}`,
      'look at the containerd lines in the agent log; is another containerd using that state directory?',
    )
  }

  /** Every `*.tar` in the image directories, into the CRI plugin's namespace. */
  private async importImages(): Promise<void> {
    const files: string[] = []
    for (const dir of this.init.imageDirs) {
      const names = await readdir(dir).catch(() => [] as string[])
      for (const n of names.sort()) if (n.endsWith('.tar')) files.push(join(dir, n))
    }
    if (files.length === 0) {
      this.c.log.warn(
        { dirs: this.init.imageDirs },
        `no image archives: containerd will try to pull ${this.init.sandboxImage} (build it with images/pause/build.sh)`,
      )
    }
    this.imported = []
    for (const file of files) {
      const r = await this.ctr(['--namespace', ctrNamespace, 'images', 'import', file], 120_000)
      if (r.exitCode !== 0) {
        throw new HomecloudError(
          'KUBE_RUNTIME',
          `importing ${file} into containerd failed: ${String(r.stderr || r.stdout)
            .trim()
            .slice(0, 300)}`,
          'rebuild the archive (images/pause/build.sh --force, or images/oci/pack.sh) — a truncated file cannot be imported',
        )
      }
      const names = [...String(r.stdout).matchAll(/unpacking (\S+) /g)].map((m) => m[1]!)
      this.imported.push(...names)
    }
  }
}

/** containerd's logrus text lines: `time=… level=info msg="…"`. Info is chatter: debug. */
export function parseContainerdLine(line: string): { level: LogLevel; msg: string } {
  const level = /level=(\w+)/.exec(line)?.[1]
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line
  if (level === 'error' || level === 'fatal' || level === 'panic') return { level: 'error', msg }
  if (level === 'warning' || level === 'warn') return { level: 'warn', msg }
  return { level: 'debug', msg }
}
