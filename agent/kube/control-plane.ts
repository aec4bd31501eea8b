import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import { Supervisor, type SupervisorState } from '../core/supervisor.js'
import { hostPort } from '../etcd/spec.js'
import type { CaMaterial } from '../pki/ca.js'
import { writeFileAtomic } from '../pki/store.js'
import { apiserverArgs, controllerManagerArgs, schedulerArgs } from './args.js'
import { issueForProfile, writeControlPlaneFiles } from './certs.js'
import { apiserverTlsName, renderKubeconfig } from './kubeconfig.js'
import type { KubePaths } from './paths.js'

// The Kubernetes control plane follows etcd placement: while this node's etcd member is a
// voter (and so holds the CA key) it writes the control-plane files and supervises
// kube-apiserver, kube-controller-manager and kube-scheduler; once it is no longer a voter
// (removed, retired) they stop. Level-triggered: a controller with one key compares want
// with have every tick (decideControlPlane, pure) and applies the answer. After a recovery
// (the local etcd restored from a snapshot as a new epoch) the three restart: an API
// server's watch cache holds revisions the restored etcd never had, and Kubernetes' own
// rule is to restart the API servers (and the components that watch them) after a restore.

export interface KubeControlPlaneInit {
  paths: KubePaths
  nodeId: string
  nodeName: string
  address: string
  apiPort: number
  /** `node`, or an explicit IPv4 address to advertise. */
  advertise: string
  nodeMonitorGracePeriodSeconds: number
  /** The local load balancer: the admin kubeconfig on this node points at it. */
  lb: { host: string; port: number }
  programs: { apiserver: string; controllerManager: string; scheduler: string }
  env?: Record<string, string>
  tickMs?: number
}

export interface KubeControlPlaneComponents {
  clock: Clock
  log: Logger
  random?: Random
  counters?: Counters
  isVoter(): boolean
  ca(): CaMaterial | null
  /** Client URLs of the current etcd voters, this node's first. */
  etcdServers(): string[]
  /** The local etcd member's epoch (0 until a recovery restores it from a snapshot). */
  etcdEpoch(): number
}

export type ComponentState = SupervisorState

/** The documentation range (RFC 5737): never a real host, accepted by kube-apiserver. */
export function advertisedAddress(
  address: string,
  advertise: string,
): { address: string; reconciler: 'lease' | 'none' } {
  if (advertise !== 'node') return { address: advertise, reconciler: 'lease' }
  if (!address.startsWith('127.')) return { address, reconciler: 'lease' }
  return { address: `192.0.2.${address.split('.')[3] ?? '1'}`, reconciler: 'none' }
}

/** Two ticks in a row not a voter before stopping: a status read that failed once is no reason. */
export const notVoterTicksToStop = 2

export interface ControlPlaneObserved {
  voter: boolean
  hasCa: boolean
  running: boolean
  /** Ticks in a row, before this one, that found this node no voter. */
  notVoterTicks: number
  /** Running against an etcd of an earlier epoch than the local member's now (restored since). */
  epochChanged: boolean
}

/**
 * Start, stop, restart or leave the control plane (pure): a voter holding the CA key runs
 * it, started against its etcd's current epoch.
 */
export function decideControlPlane(o: ControlPlaneObserved): {
  action: 'start' | 'stop' | 'restart' | 'none'
  notVoterTicks: number
} {
  const want = o.voter && o.hasCa
  const notVoterTicks = want ? 0 : o.notVoterTicks + 1
  if (want && !o.running) return { action: 'start', notVoterTicks }
  if (want && o.epochChanged) return { action: 'restart', notVoterTicks }
  if (!want && o.running && notVoterTicks >= notVoterTicksToStop) return { action: 'stop', notVoterTicks }
  return { action: 'none', notVoterTicks }
}

export class KubeControlPlane {
  private procs: Supervisor[] = []
  private readonly ctl: Controller
  private notVoterTicks = 0
  /** The local etcd's epoch when the running programs started. */
  private startedEpoch = 0

  constructor(
    private readonly init: KubeControlPlaneInit,
    private readonly c: KubeControlPlaneComponents,
  ) {
    const everyMs = init.tickMs ?? 2000
    this.ctl = new Controller(
      {
        name: 'kube-control-plane',
        keys: () => ['control-plane'],
        resyncMs: everyMs,
        // A failed start is tried again a period later, as the next tick would.
        backoff: { initialDelayMs: everyMs, factor: 1, delayMsMax: everyMs, jitter: 0 },
        sync: () => this.tick(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log, counters: c.counters },
    )
  }

  start(): void {
    this.ctl.start()
  }

  /** Waits for a tick in flight (a start half done), then stops the programs. */
  async stop(): Promise<void> {
    await this.ctl.stop()
    await this.halt()
  }

  get running(): boolean {
    return this.procs.length > 0
  }

  status(): Record<string, ComponentState> {
    return Object.fromEntries(this.procs.map((p) => [p.name, p.status().state]))
  }

  private async tick(): Promise<void> {
    const ca = this.c.ca()
    const epoch = this.c.etcdEpoch()
    const d = decideControlPlane({
      voter: this.c.isVoter(),
      hasCa: ca !== null,
      running: this.running,
      notVoterTicks: this.notVoterTicks,
      epochChanged: this.running && epoch !== this.startedEpoch,
    })
    this.notVoterTicks = d.notVoterTicks
    if (d.action === 'start' && ca) await this.begin(ca, epoch)
    else if (d.action === 'restart' && ca) {
      this.c.log.warn(
        { from: this.startedEpoch, to: epoch },
        'etcd was restored from a snapshot: restarting the Kubernetes control plane against it',
      )
      await this.halt()
      await this.begin(ca, epoch)
    } else if (d.action === 'stop') {
      this.c.log.info('no longer an etcd voter: stopping the Kubernetes control plane')
      await this.halt()
      if (!this.c.ca()) await this.forgetSecrets()
    }
  }

  private async begin(ca: CaMaterial, epoch: number): Promise<void> {
    const { paths, address } = this.init
    this.startedEpoch = epoch
    const own = `https://${hostPort(address, this.init.apiPort)}`
    this.c.log.info('etcd voter: starting the Kubernetes control plane')
    const id = {
      ca,
      nodeId: this.init.nodeId,
      nodeName: this.init.nodeName,
      ips: [address],
      apiserverUrl: own,
      clock: this.c.clock,
    }
    await writeControlPlaneFiles(paths, id)
    // The admin kubeconfig on this node goes through the local load balancer, so it keeps
    // working when this board stops being a control-plane board.
    const admin = await issueForProfile('admin', id)
    await writeFileAtomic(
      paths.adminKubeconfig,
      renderKubeconfig({
        server: `https://${hostPort(this.init.lb.host, this.init.lb.port)}`,
        caPem: ca.certPem,
        user: 'homecloud-admin',
        tlsServerName: apiserverTlsName,
        ...admin,
      }),
      0o600,
    )
    const adv = advertisedAddress(address, this.init.advertise)
    const run = join(paths.dir, 'run')
    const mk = (name: string, binary: string, args: string[], marker: string) =>
      new Supervisor(
        {
          name,
          binary,
          args,
          marker,
          pidFile: join(run, `${name}.pid`),
          env: this.init.env,
          stopGraceMs: 5000,
        },
        { logger: this.c.log, clock: this.c.clock },
      )
    const apiArgs = apiserverArgs({
      address,
      advertiseAddress: adv.address,
      endpointReconciler: adv.reconciler,
      port: this.init.apiPort,
      etcdServers: this.c.etcdServers(),
      paths,
    })
    const ctl = { address, paths, nodeMonitorGracePeriodSeconds: this.init.nodeMonitorGracePeriodSeconds }
    this.procs = [
      mk('kube-apiserver', this.init.programs.apiserver, apiArgs, `--tls-cert-file=${paths.apiserver.cert}`),
      mk(
        'kube-controller-manager',
        this.init.programs.controllerManager,
        controllerManagerArgs(ctl),
        `--kubeconfig=${paths.controllerManagerKubeconfig}`,
      ),
      mk(
        'kube-scheduler',
        this.init.programs.scheduler,
        schedulerArgs(ctl),
        `--kubeconfig=${paths.schedulerKubeconfig}`,
      ),
    ]
    for (const p of this.procs) await p.start()
  }

  private async halt(): Promise<void> {
    const procs = this.procs
    this.procs = []
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)))
  }

  /** The CA key is gone (retired): so go the keys derived from it and the admin identity. */
  private async forgetSecrets(): Promise<void> {
    const p = this.init.paths
    for (const f of [
      p.serviceAccountKey,
      p.controllerManagerKubeconfig,
      p.schedulerKubeconfig,
      p.adminKubeconfig,
    ])
      await rm(f, { force: true })
  }
}
