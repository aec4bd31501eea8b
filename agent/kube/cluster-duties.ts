import { readFile } from 'node:fs/promises'
import type { Clock, Timer } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import { KubeApi } from './api-client.js'
import type { KubePaths } from './paths.js'
import { type NodeRoleState, nodeRolePatches, type Taint } from './roles.js'

// What the coordinator does in Kubernetes with admin rights: keep the control-plane role
// label (and, per config, the taint) on exactly the Nodes of the current etcd voters.
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
  isCoordinator(): boolean
  /** Names of the nodes that are etcd voters now. */
  controlPlaneNames(): string[]
}

export class ClusterDuties {
  private timer: Timer | undefined
  private busy = false
  private lastError = ''

  constructor(
    private readonly init: ClusterDutiesInit,
    private readonly c: ClusterDutiesComponents,
  ) {}

  start(): void {
    this.timer = this.c.clock.setInterval(() => void this.tick(), this.init.tickMs ?? 3000)
  }

  stop(): void {
    this.timer?.cancel()
  }

  async tick(): Promise<void> {
    if (this.busy || !this.c.isCoordinator()) return
    this.busy = true
    try {
      const admin = await readAdmin(this.init.paths.adminKubeconfig)
      if (!admin) return
      const api = new KubeApi({ host: this.init.lb.host, port: this.init.lb.port, ...admin })
      const list = await api.ok('GET', '/api/v1/nodes')
      const items = (list.body as { items?: RawNode[] }).items ?? []
      const nodes: NodeRoleState[] = items.map((n) => ({
        name: n.metadata?.name ?? '',
        labels: n.metadata?.labels ?? {},
        taints: n.spec?.taints ?? [],
      }))
      const patches = nodeRolePatches(nodes, new Set(this.c.controlPlaneNames()), this.init.taintControlPlane)
      for (const p of patches) {
        if (!this.c.isCoordinator()) return
        await api.ok(
          'PATCH',
          `/api/v1/nodes/${encodeURIComponent(p.name)}`,
          p.patch,
          'application/merge-patch+json',
        )
        this.c.log.info({ node: p.name, patch: p.patch }, 'control-plane role of a Node updated')
      }
      this.lastError = ''
    } catch (err) {
      const msg = (err as Error).message
      if (msg !== this.lastError) this.c.log.warn({ err: msg }, 'Kubernetes cluster duties')
      this.lastError = msg
    } finally {
      this.busy = false
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
