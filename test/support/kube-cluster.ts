import { appendFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { silentLogger } from '../../agent/core/log.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { applyAddons, describeProblem } from '../../agent/kube/addons/index.js'
import { apiserverArgs, controllerManagerArgs, kwokArgs, schedulerArgs } from '../../agent/kube/args.js'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import { issueForProfile, writeControlPlaneFiles, writeNodeKubeconfig } from '../../agent/kube/certs.js'
import { kwokRbac } from '../../agent/kube/index.js'
import { type NodeFacts, nodeManifest } from '../../agent/kube/node-object.js'
import { type KubePaths, kubePaths } from '../../agent/kube/paths.js'
import { writeCertAndKey } from '../../agent/pki/store.js'
import { LAB_ENV } from '../../lab/processes.js'
import { EtcdLab, realClock, waitFor } from './etcd-lab.js'

// A real Kubernetes control plane for tests that need one without agents around it:
// one etcd member, kube-apiserver, kube-controller-manager and kube-scheduler on
// 127.0.<block>.1, and one kwok per test node (each managing only its own Node, with
// the node's own `system:node:` certificate). Every file comes from agent/kube, the same
// code the agent runs. Children carry the lab marker so the test reaper finds them.

export interface KubeTestNode {
  name: string
  arch?: 'amd64' | 'arm64'
  board?: string
}

export class KubeTestCluster {
  private readonly procs = new Map<string, ResultPromise>()
  readonly address: string
  readonly apiserverUrl: string
  readonly paths: KubePaths
  /** Milliseconds from spawning kube-apiserver to its first `/readyz` ok (kubectl polls every 50 ms). */
  apiserverStartToReadyMs: number | null = null

  private constructor(
    readonly etcd: EtcdLab,
    readonly stateDir: string,
    private readonly programs: Record<string, string>,
  ) {
    this.address = `127.0.${etcd.members.get(1)!.address.split('.')[2]}.1`
    this.apiserverUrl = `https://${this.address}:6443`
    this.paths = kubePaths(stateDir)
  }

  /** etcd + API server + controller manager + scheduler, ready (`/readyz` ok). */
  static async create(init: {
    block: number
    /** Appended to kube-controller-manager's command line (e.g. a shorter node-monitor-grace-period). */
    controllerManagerArgs?: string[]
  }): Promise<KubeTestCluster> {
    const programs = await findKubePrograms([
      'kube-apiserver',
      'kube-controller-manager',
      'kube-scheduler',
      'kwok',
    ])
    const etcd = await EtcdLab.create({ block: init.block })
    try {
      const m = await etcd.found(1)
      const c = new KubeTestCluster(etcd, m.stateDir, programs)
      await c.start(init.controllerManagerArgs ?? [])
      return c
    } catch (err) {
      await etcd.cleanup()
      throw err
    }
  }

  get adminKubeconfig(): string {
    return this.paths.adminKubeconfig
  }

  private async start(controllerManagerExtra: string[]): Promise<void> {
    const id = {
      ca: this.etcd.ca,
      nodeId: 'n1',
      nodeName: 'n1',
      ips: [this.address],
      apiserverUrl: this.apiserverUrl,
      clock: realClock,
    }
    await writeCertAndKey(this.paths.etcdClient, await issueForProfile('etcd-client', id))
    await writeControlPlaneFiles(this.paths, id)
    await mkdir(this.paths.logDir, { recursive: true })
    const spawnedAt = performance.now()
    this.spawn(
      'kube-apiserver',
      apiserverArgs({
        address: this.address,
        // Loopback may not be advertised; a documentation address with no reconciler.
        advertiseAddress: '192.0.2.1',
        endpointReconciler: 'none',
        etcdServers: [this.etcd.members.get(1)!.clientUrl],
        paths: this.paths,
      }),
    )
    await this.waitReady()
    this.apiserverStartToReadyMs = performance.now() - spawnedAt
    // kwok's RBAC, applied as the coordinator applies it (agent/kube/index.ts).
    const rbac = await applyAddons({
      kubeconfigPath: this.adminKubeconfig,
      dir: join(packageRoot(), 'manifests', kwokRbac.dir),
      stateConfigMap: kwokRbac.stateConfigMap,
      log: silentLogger(),
      clock: realClock,
    })
    if (rbac.problems.length > 0)
      throw new Error(`kwok RBAC: ${rbac.problems.map(describeProblem).join('; ')}`)
    this.spawn('kube-controller-manager', [
      ...controllerManagerArgs({ address: this.address, paths: this.paths }),
      ...controllerManagerExtra,
    ])
    this.spawn('kube-scheduler', schedulerArgs({ address: this.address, paths: this.paths }))
  }

  private spawn(name: string, args: string[], key = name): void {
    const program = this.programs[name]!
    const log = join(this.paths.logDir, `${key}.log`)
    const child = execa(program, args, {
      env: { ...process.env, [LAB_ENV]: this.etcd.dir },
      stdout: { file: log },
      stderr: { file: log },
      reject: false,
      detached: true,
    })
    child.catch(() => {})
    this.procs.set(key, child)
  }

  async waitReady(timeoutMs = 120_000): Promise<void> {
    await waitFor('kube-apiserver /readyz', timeoutMs, async () => {
      const r = await this.kubectl(['get', '--raw', '/readyz'])
      return r.exitCode === 0
    })
  }

  /** The built kubectl with the admin kubeconfig. */
  async kubectl(args: string[], input?: string) {
    const { kubectl } = await findKubePrograms(['kubectl'])
    return execa(kubectl, ['--kubeconfig', this.adminKubeconfig, '--request-timeout=10s', ...args], {
      reject: false,
      input,
    })
  }

  /** The built kubectl with another kubeconfig (e.g. a second API server's admin). */
  async kubectlWith(kubeconfig: string, args: string[], input?: string) {
    const { kubectl } = await findKubePrograms(['kubectl'])
    return execa(kubectl, ['--kubeconfig', kubeconfig, '--request-timeout=10s', ...args], {
      reject: false,
      input,
    })
  }

  /**
   * Another kube-apiserver on 127.0.<block>.<n> against the same etcd, set up the way a
   * second voter would be: its own state directory, its own certificates, and its own
   * service-account key derived from the CA key (nothing copied from the first).
   */
  async addApiserver(n: number): Promise<{ url: string; paths: KubePaths }> {
    const address = this.address.replace(/\.1$/, `.${n}`)
    const url = `https://${address}:6443`
    const paths = kubePaths(join(this.etcd.dir, `apiserver-${n}`))
    const id = {
      ca: this.etcd.ca,
      nodeId: `n${n}`,
      nodeName: `n${n}`,
      ips: [address],
      apiserverUrl: url,
      clock: realClock,
    }
    await writeCertAndKey(paths.etcdClient, await issueForProfile('etcd-client', id))
    await writeControlPlaneFiles(paths, id)
    this.spawn(
      'kube-apiserver',
      apiserverArgs({
        address,
        advertiseAddress: `192.0.2.${n}`,
        endpointReconciler: 'none',
        etcdServers: [this.etcd.members.get(1)!.clientUrl],
        paths,
      }),
      `kube-apiserver-${n}`,
    )
    await waitFor(`kube-apiserver ${n} /readyz`, 120_000, async () => {
      const r = await this.kubectlWith(paths.adminKubeconfig, ['get', '--raw', '/readyz'])
      return r.exitCode === 0
    })
    return { url, paths }
  }

  /** kubectl as a node registered with addNode (its `system:node:` identity). */
  async kubectlAs(node: string, args: string[]) {
    const { kubectl } = await findKubePrograms(['kubectl'])
    const kubeconfig = kubePaths(join(this.etcd.dir, 'kwok', node)).nodeKubeconfig
    return execa(kubectl, ['--kubeconfig', kubeconfig, '--request-timeout=10s', ...args], { reject: false })
  }

  /**
   * A Node managed by its own kwok. The Node is created through the node's own
   * identity (NodeRestriction decides what it may say about itself).
   */
  async addNode(node: KubeTestNode, index: number): Promise<void> {
    const dir = join(this.etcd.dir, 'kwok', node.name)
    const paths = kubePaths(dir)
    const who = {
      ca: this.etcd.ca,
      nodeId: node.name,
      nodeName: node.name,
      ips: [this.address],
      clock: realClock,
    }
    const common = { caPem: this.etcd.ca.certPem, nodeName: node.name, server: this.apiserverUrl }
    await writeNodeKubeconfig(paths, { ...common, pair: await issueForProfile('kubelet', who) })
    await writeNodeKubeconfig(paths, { ...common, pair: await issueForProfile('kwok', who), who: 'kwok' })
    const facts: NodeFacts = {
      name: node.name,
      address: this.address,
      arch: node.arch ?? 'arm64',
      board: node.board ?? 'pi4',
      storageClass: 'ssd',
      nodeId: node.name,
    }
    const manifest = JSON.stringify(nodeManifest(facts, { kwok: true }))
    const { kubectl } = await findKubePrograms(['kubectl'])
    const created = await execa(kubectl, ['--kubeconfig', paths.nodeKubeconfig, 'create', '-f', '-'], {
      input: manifest,
      reject: false,
    })
    if (created.exitCode !== 0) throw new Error(`node ${node.name} could not register: ${created.stderr}`)
    await appendFile(join(this.paths.logDir, 'nodes.log'), `${node.name}\n`)
    this.startKwok(node.name, index)
  }

  /** (Re)starts the kwok of a node added with addNode: plugging it back in. */
  startKwok(name: string, index: number): void {
    const paths = kubePaths(join(this.etcd.dir, 'kwok', name))
    this.spawn(
      'kwok',
      kwokArgs({
        nodeName: name,
        address: this.address,
        port: 10300 + index,
        podCidr: `10.244.${index}.0/24`,
        stagesFile: join(packageRoot(), 'manifests', 'kwok', 'stages.yaml'),
        paths,
      }),
      `kwok-${name}`,
    )
  }

  /** The process id of a component (`kube-apiserver`, `kwok-<node>`, …), for measuring it. */
  pid(key: string): number | undefined {
    return this.procs.get(key)?.pid
  }

  /** Kills one component (unplugging a node = killing its kwok). */
  kill(key: string): void {
    const p = this.procs.get(key)
    if (p?.pid) {
      try {
        process.kill(-p.pid, 'SIGKILL')
      } catch {}
    }
    this.procs.delete(key)
  }

  async cleanup(): Promise<void> {
    for (const key of [...this.procs.keys()]) this.kill(key)
    await Promise.all([...this.procs.values()].map((p) => p.catch(() => {})))
    await this.etcd.cleanup()
  }
}
