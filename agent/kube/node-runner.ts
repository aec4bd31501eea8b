import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import { parseKwokLine, Supervisor } from '../core/supervisor.js'
import { hostPort } from '../etcd/spec.js'
import { readCertificate } from '../pki/cert.js'
import { PROFILES } from '../pki/profiles.js'
import { type CertKeyPaths, readCertAndKey, writeCertAndKey } from '../pki/store.js'
import type { NodeProfile } from '../trust/node-profile.js'
import { KubeHttpClient } from './api-client.js'
import { kwokArgs } from './args.js'
import { writeNodeKubeconfig } from './certs.js'
import { apiserverTlsName } from './kubeconfig.js'
import { type NodeFacts, nodeManifest } from './node-object.js'
import type { KubePaths } from './paths.js'
import type { NodeRuntime } from './runtime/node-runtime.js'

// Every node is a Kubernetes Node: it holds a kubelet certificate for its own name (and, in
// labs, a kwok one), asked of a signer over the mesh; it registers its Node with that
// identity through the local load balancer, keeps it registered, and — in kwok mode —
// supervises one kwok that manages exactly this Node. kwok is a child of the agent, so a
// dead agent (an unplugged board) is a Node whose lease runs out. A controller with one
// key: each tick plans the steps still missing (nodeSteps, pure) and runs them in order.

export interface KubeNodeInit {
  paths: KubePaths
  certs: Record<NodeProfile, CertKeyPaths>
  facts: NodeFacts
  mode: 'kubelet' | 'kwok' | 'none'
  lb: { host: string; port: number }
  kwok?: { binary: string; stagesFile: string; leaseSeconds: number; podCidr: string }
  /** kubelet mode: containerd + kubelet, started once the Node is registered. */
  runtime?: Pick<NodeRuntime, 'start' | 'stop' | 'status' | 'running'>
  /** The Node's spec.podCIDR (kubelet mode: the range its CNI hands out). */
  podCidr?: string
  /** Annotations this node keeps on its Node (its pod network's mode and key). */
  annotations?: () => Promise<Record<string, string>>
  env?: Record<string, string>
  tickMs?: number
  /** How often a registered Node is checked (it may have been deleted). */
  recheckMs?: number
}

export interface KubeNodeComponents {
  clock: Clock
  log: Logger
  random?: Random
  counters?: Counters
  caPem(): string | null
  requestCertificate(profile: NodeProfile): Promise<{ certPem: string; keyPem: string }>
}

/** Pod addresses kwok hands out: one /24 per node, from the node address's last octet. */
export function podCidrFor(address: string): string {
  return `10.244.${Number(address.split('.')[3] ?? 0) % 256}.0/24`
}

export type NodePhase = 'certificates' | 'registering' | 'registered'

export type NodeStep =
  | { kind: 'cert'; profile: NodeProfile }
  | { kind: 'register' }
  | { kind: 'kwok' }
  | { kind: 'runtime' }

export interface NodeObserved {
  hasCa: boolean
  /** Certificates this node needs and does not hold yet. */
  missing: NodeProfile[]
  phase: NodePhase
  /** The registered Node is due for its periodic check (it may have been deleted). */
  recheckDue: boolean
  mode: KubeNodeInit['mode']
  /** kubelet mode: whether containerd + kubelet run; undefined without a runtime. */
  runtimeRunning: boolean | undefined
}

/** The steps still to do, in order (pure); each runs only if those before it succeeded. */
export function nodeSteps(o: NodeObserved): NodeStep[] {
  if (!o.hasCa) return []
  const steps: NodeStep[] = o.missing.map((profile) => ({ kind: 'cert', profile }))
  if (o.phase !== 'registered' || o.recheckDue) steps.push({ kind: 'register' })
  if (o.mode === 'kwok') steps.push({ kind: 'kwok' })
  if (o.runtimeRunning === false) steps.push({ kind: 'runtime' })
  return steps
}

export class KubeNode {
  private readonly ctl: Controller
  private pairs = new Map<NodeProfile, { certPem: string; keyPem: string }>()
  private phase: NodePhase = 'certificates'
  private lastCheckMono = Number.NEGATIVE_INFINITY
  private kwok: Supervisor | null = null

  constructor(
    private readonly init: KubeNodeInit,
    private readonly c: KubeNodeComponents,
  ) {
    const everyMs = init.tickMs ?? 2000
    this.ctl = new Controller(
      {
        name: 'kube-node',
        keys: () => ['node'],
        resyncMs: everyMs,
        // The API is often simply not up yet: try again a period later, as the next tick would.
        backoff: { initialDelayMs: everyMs, factor: 1, delayMsMax: everyMs, jitter: 0 },
        sync: () => this.tick(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log, counters: c.counters },
    )
  }

  start(): void {
    this.ctl.start()
  }

  /** Waits for a tick in flight, then stops kwok and the runtime. */
  async stop(): Promise<void> {
    await this.ctl.stop()
    await this.kwok?.stop(3000)
    await this.init.runtime?.stop()
  }

  status(): {
    phase: NodePhase
    kwok: string | null
    runtime: ReturnType<NodeRuntime['status']> | null
  } {
    return {
      phase: this.phase,
      kwok: this.kwok ? this.kwok.status().state : null,
      runtime: this.init.runtime ? this.init.runtime.status() : null,
    }
  }

  private profiles(): NodeProfile[] {
    if (this.init.mode === 'kwok') return ['kubelet', 'kwok']
    if (this.init.mode === 'kubelet') return ['kubelet', 'kubelet-serving']
    return ['kubelet']
  }

  private async tick(): Promise<void> {
    const caPem = this.c.caPem()
    const steps = nodeSteps({
      hasCa: caPem !== null,
      missing: this.profiles().filter((p) => !this.pairs.has(p)),
      phase: this.phase,
      recheckDue: this.c.clock.monoMs() - this.lastCheckMono >= (this.init.recheckMs ?? 10_000),
      mode: this.init.mode,
      runtimeRunning: this.init.runtime ? this.init.runtime.running : undefined,
    })
    if (caPem === null) return
    for (const step of steps) await this.apply(step, caPem)
  }

  private async apply(step: NodeStep, caPem: string): Promise<void> {
    if (step.kind === 'cert') {
      await this.ensureCert(step.profile, caPem)
    } else if (step.kind === 'register') {
      if (this.phase === 'certificates') this.phase = 'registering'
      await this.register(caPem)
      this.lastCheckMono = this.c.clock.monoMs()
      if (this.phase !== 'registered')
        this.c.log.info({ node: this.init.facts.name }, 'registered as a Kubernetes Node')
      this.phase = 'registered'
    } else if (step.kind === 'kwok') await this.ensureKwok(caPem)
    else await this.init.runtime?.start()
  }

  /** A certificate on disk is reused while it is ours, from this CA, and not near its end. */
  private async ensureCert(profile: NodeProfile, caPem: string): Promise<void> {
    const files = this.init.certs[profile]
    const onDisk = await readCertAndKey(files).catch(() => undefined)
    let pair = onDisk && this.usable(profile, onDisk.certPem, caPem) ? onDisk : undefined
    if (!pair) {
      pair = await this.c.requestCertificate(profile)
      await writeCertAndKey(files, pair)
      this.c.log.info({ profile }, `${profile} certificate received`)
    }
    this.pairs.set(profile, pair)
    if (profile === 'kubelet-serving') return // served by the kubelet itself, no kubeconfig
    const server = `https://${hostPort(this.init.lb.host, this.init.lb.port)}`
    await writeNodeKubeconfig(this.init.paths, {
      caPem,
      nodeName: this.init.facts.name,
      server,
      pair,
      who: profile === 'kwok' ? 'kwok' : 'node',
      tlsServerName: apiserverTlsName,
    })
  }

  private usable(profile: NodeProfile, certPem: string, caPem: string): boolean {
    try {
      const info = readCertificate(certPem)
      const cn = PROFILES[profile].commonName({ nodeName: this.init.facts.name })
      const dayMs = 86_400_000
      return (
        info.commonName === cn &&
        info.notAfterMs - this.c.clock.nowMs() > dayMs &&
        new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey)
      )
    } catch {
      return false
    }
  }

  private api(caPem: string): KubeHttpClient {
    const pair = this.pairs.get('kubelet')!
    return new KubeHttpClient({ host: this.init.lb.host, port: this.init.lb.port, caPem, ...pair })
  }

  /** Creates the Node with this node's own identity, or brings its labels up to date. */
  private async register(caPem: string): Promise<void> {
    const api = this.api(caPem)
    const manifest = nodeManifest(this.init.facts, {
      kwok: this.init.mode === 'kwok',
      ...(this.init.podCidr ? { podCidr: this.init.podCidr } : {}),
      ...(this.init.annotations ? { annotations: await this.init.annotations() } : {}),
    })
    const path = `/api/v1/nodes/${encodeURIComponent(manifest.metadata.name)}`
    const got = await api.request('GET', path)
    if (got.status === 404) {
      await api.ok('POST', '/api/v1/nodes', manifest)
      return
    }
    if (got.status !== 200) await api.ok('GET', path) // throws with the API's message
    const meta = (
      got.body as { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } }
    ).metadata
    const differs = (want: Record<string, string>, have: Record<string, string> = {}) =>
      Object.entries(want).some(([k, v]) => have[k] !== v)
    if (
      differs(manifest.metadata.labels, meta?.labels) ||
      differs(manifest.metadata.annotations, meta?.annotations)
    ) {
      await api.ok(
        'PATCH',
        path,
        { metadata: { labels: manifest.metadata.labels, annotations: manifest.metadata.annotations } },
        'application/merge-patch+json',
      )
    }
  }

  private async ensureKwok(caPem: string): Promise<void> {
    const k = this.init.kwok
    if (!k) return
    if (!this.kwok) {
      await this.freeNodeLease(caPem)
      const args = kwokArgs({
        nodeName: this.init.facts.name,
        address: this.init.facts.address,
        podCidr: k.podCidr,
        stagesFile: k.stagesFile,
        leaseSeconds: k.leaseSeconds,
        paths: this.init.paths,
      })
      this.kwok = new Supervisor(
        {
          name: 'kwok',
          binary: k.binary,
          args,
          marker: `--kubeconfig=${this.init.paths.kwokKubeconfig}`,
          pidFile: join(this.init.paths.dir, 'run', 'kwok.pid'),
          env: this.init.env,
          stopGraceMs: 3000,
          parseLine: parseKwokLine,
        },
        { logger: this.c.log, clock: this.c.clock },
      )
    }
    if (!this.kwok.active) await this.kwok.start()
  }

  /**
   * kwok holds its Node's lease under a name new at every start (hostname + a random id) and
   * leaves another holder's lease alone until it runs out: after an agent restart (a reboot,
   * a rollout's try) the Node had no heartbeat for up to leaseSeconds + a renew period though
   * the node was back (a rollout's health gate waited ~30 s per node for it). The lease is
   * this Node's alone — a kubelet holds it by the node's name and renews it at once after a
   * restart — so before its kwok first starts the agent frees it, and kwok takes it at once.
   */
  private async freeNodeLease(caPem: string): Promise<void> {
    const name = encodeURIComponent(this.init.facts.name)
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`
    const body = { spec: { holderIdentity: null } }
    // None yet (a new Node): kwok creates it. Not freed: kwok waits it out, as before.
    const status = await this.api(caPem)
      .request('PATCH', path, body, 'application/merge-patch+json')
      .then((r) => r.status)
      .catch((err: Error) => err.message)
    if (status !== 200 && status !== 404)
      this.c.log.warn({ status }, 'could not free the Node lease for kwok: it waits for the lease to run out')
  }
}
