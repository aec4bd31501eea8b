import { readFile } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'
import { KubeHttpClient } from './api-client.js'
import type { KubePaths } from './paths.js'
import { type NodeRoleState, nodeRolePatches, type Taint } from './roles.js'

// What the coordinator does in Kubernetes with admin rights: keep the control-plane role
// label (and, per config, the taint) on exactly the Nodes of the current etcd voters. A
// controller with one key: observe the Nodes → nodeRolePatches (pure) → patch.
// (kwok's RBAC is applied like the add-ons, by an AddonKeeper of its own: agent/kube/index.ts.)

export interface ClusterDutiesInit {
  paths: KubePaths
  lb: { host: string; port: number }
  taintControlPlane: boolean
  tickMs?: number
}

export interface ClusterDutiesComponents {
  clock: Clock
  log: Logger
  random?: Random
  counters?: Counters
  isCoordinator(): boolean
  /** Names of the nodes that are etcd voters now. */
  controlPlaneNames(): string[]
}

export class ClusterDuties {
  private readonly ctl: Controller

  constructor(
    private readonly init: ClusterDutiesInit,
    private readonly c: ClusterDutiesComponents,
  ) {
    const everyMs = init.tickMs ?? 3000
    this.ctl = new Controller(
      {
        name: 'cluster-duties',
        keys: () => ['node-roles'],
        resyncMs: everyMs,
        syncAtStart: false,
        mayAct: c.isCoordinator,
        // A failed pass is tried again a period later, as the next pass would be.
        backoff: { initialDelayMs: everyMs, factor: 1, delayMsMax: everyMs, jitter: 0 },
        sync: (_key, ctx) => this.tick(ctx.mayAct),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log, counters: c.counters },
    )
  }

  start(): void {
    this.ctl.start()
  }

  /** Resolves once a pass in flight has finished. */
  stop(): Promise<void> {
    return this.ctl.stop()
  }

  /** One pass: observe the Nodes, decide the patches (pure), apply them while still coordinator. */
  private async tick(mayAct: () => boolean): Promise<void> {
    const admin = await readAdmin(this.init.paths.adminKubeconfig)
    if (!admin) return
    const api = new KubeHttpClient({ host: this.init.lb.host, port: this.init.lb.port, ...admin })
    const list = await api.ok('GET', '/api/v1/nodes')
    const items = (list.body as { items?: RawNode[] }).items ?? []
    const nodes: NodeRoleState[] = items.map((n) => ({
      name: n.metadata?.name ?? '',
      labels: n.metadata?.labels ?? {},
      taints: n.spec?.taints ?? [],
    }))
    const patches = nodeRolePatches(nodes, new Set(this.c.controlPlaneNames()), this.init.taintControlPlane)
    for (const p of patches) {
      if (!mayAct()) return
      await api.ok(
        'PATCH',
        `/api/v1/nodes/${encodeURIComponent(p.name)}`,
        p.patch,
        'application/merge-patch+json',
      )
      this.c.log.info({ node: p.name, patch: p.patch }, 'control-plane role of a Node updated')
    }
  }
}

interface RawNode {
  metadata?: { name?: string; labels?: Record<string, string> }
  spec?: { taints?: Taint[] }
}

/** CA, cert and key from a kubeconfig this agent wrote (JSON, embedded data). */
export async function readAdmin(
  path: string,
): Promise<{ caPem: string; certPem: string; keyPem: string } | null> {
  try {
    const k = JSON.parse(await readFile(path, 'utf8')) as {
      clusters: { cluster: { 'certificate-authority-data': string } }[]
      users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[]
    }
    const d = (s: string) => Buffer.from(s, 'base64').toString('utf8')
    return {
      caPem: d(k.clusters[0]!.cluster['certificate-authority-data']),
      certPem: d(k.users[0]!.user['client-certificate-data']),
      keyPem: d(k.users[0]!.user['client-key-data']),
    }
  } catch {
    return null
  }
}
