import { existsSync } from 'node:fs'
import type { V1Node } from '../../control/kubeapi/types.js'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import type { Random } from '../core/random.js'
import { KubeHttpClient } from './api-client.js'
import { readAdmin } from './cluster-duties.js'
import { type KubeNodeView, kubeNodesView, type PodTable } from './nodes-view.js'

// On a voter (it holds the admin kubeconfig), every few seconds: the Nodes and the
// Running pods per Node, for the status page of every node (workers read it through a
// voter over 7443). Pods are asked as a Table, a few hundred bytes a pod instead of the
// whole object.

export interface NodesReaderInit {
  adminKubeconfig: string
  lb: { host: string; port: number }
  refreshMs?: number
}

export interface NodesReaderComponents {
  clock: Clock
  random: Random
  log: Logger
  counters?: Counters
  isVoter(): boolean
}

export interface KubeNodesRead {
  nodes: KubeNodeView[]
  readAtMs: number
}

export const nodesRefreshMsDefault = 5000
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json'

export class NodesReader {
  private last: (KubeNodesRead & { atMono: number }) | null = null
  private readonly loop: Controller<'nodes'>

  constructor(
    private readonly init: NodesReaderInit,
    private readonly c: NodesReaderComponents,
  ) {
    const refreshMs = init.refreshMs ?? nodesRefreshMsDefault
    this.loop = new Controller<'nodes'>(
      {
        name: 'kube-nodes',
        keys: () => ['nodes'],
        resyncMs: refreshMs,
        backoff: { initialDelayMs: refreshMs, delayMsMax: 30_000 },
        mayAct: () => c.isVoter() && existsSync(init.adminKubeconfig),
        sync: () => this.read(),
      },
      c,
    )
  }

  start(): void {
    this.loop.start()
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  /** The last read, if recent (three refresh periods); null otherwise. */
  current(): KubeNodesRead | null {
    const l = this.last
    const freshMs = 3 * (this.init.refreshMs ?? nodesRefreshMsDefault)
    if (!l || this.c.clock.monoMs() - l.atMono > freshMs || !this.c.isVoter()) return null
    return { nodes: l.nodes, readAtMs: l.readAtMs }
  }

  private async read(): Promise<void> {
    const admin = await readAdmin(this.init.adminKubeconfig)
    if (!admin) throw new Error(`cannot read ${this.init.adminKubeconfig}`)
    const api = new KubeHttpClient({ ...this.init.lb, ...admin })
    const nodes = await api.ok('GET', '/api/v1/nodes')
    const pods = await api.request(
      'GET',
      '/api/v1/pods?fieldSelector=status.phase%3DRunning&includeObject=None',
      undefined,
      undefined,
      TABLE,
    )
    if (pods.status !== 200) throw new Error(`list pods: HTTP ${pods.status}`)
    const items = ((nodes.body as { items?: V1Node[] }).items ?? []).slice(0, 1024)
    this.last = {
      nodes: kubeNodesView(items, pods.body as PodTable),
      readAtMs: this.c.clock.nowMs(),
      atMono: this.c.clock.monoMs(),
    }
  }
}
