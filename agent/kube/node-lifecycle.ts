import type { KubeApi } from '../../control/kubeapi/types.js'
import type { NodeLifecyclePolicy } from '../../control/nodes/policy.js'
import type { MeshNodeState, ReconcileNodesResult } from '../../control/nodes/reconcile.js'
import type { Clock } from '../core/clock.js'
import { Controller } from '../core/controller.js'
import type { Counters } from '../core/counters.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import { type Random, systemRandom } from '../core/random.js'

// The coordinator's dead-node duty, a controller with one key: each sync is one
// `reconcileNodes` (control/nodes: observe the Nodes → decideNodeActions → apply) with
// the mesh's view of every node. Only the coordinator acts, and the coordinator holds its
// etcd lease only with quorum, so a minority side of a partition never taints anyone.
// client-node (through control/kubeapi) is loaded on the first sync, on the coordinator only.

export interface NodeLifecycleInit {
  kubeconfigPath: string
  policy: NodeLifecyclePolicy
  everyMs?: number
}

export interface NodeLifecycleComponents {
  clock: Clock
  log: Logger
  random?: Random
  counters?: Counters
  events?: EventLog
  /** Coordinator now, and its admin kubeconfig written. */
  mayAct(): boolean
  mesh(idOrName: string): MeshNodeState | undefined
}

export class NodeLifecycle {
  private readonly ctl: Controller
  private kube: KubeApi | null = null

  constructor(
    private readonly init: NodeLifecycleInit,
    private readonly c: NodeLifecycleComponents,
  ) {
    const everyMs = init.everyMs ?? 3000
    this.ctl = new Controller(
      {
        name: 'node-lifecycle',
        keys: () => ['nodes'],
        resyncMs: everyMs,
        syncAtStart: false,
        mayAct: c.mayAct,
        // A failed pass is tried again a period later, as the next pass would be.
        backoff: { initialDelayMs: everyMs, factor: 1, delayMsMax: everyMs, jitter: 0 },
        sync: async () => {
          throwIfFailed(await this.pass())
        },
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

  /** One pass: observe, decide, apply (what the controller runs each period). */
  async pass(): Promise<ReconcileNodesResult> {
    const [{ kubeApiFromKubeconfig }, { reconcileNodes }] = await Promise.all([
      import('../../control/kubeapi/client.js'),
      import('../../control/nodes/reconcile.js'),
    ])
    this.kube ??= await kubeApiFromKubeconfig(this.init.kubeconfigPath, this.c.clock)
    return reconcileNodes({
      kube: this.kube,
      clock: this.c.clock,
      log: this.c.log,
      policy: this.init.policy,
      isLeader: () => this.c.mayAct(),
      quorum: true,
      mesh: (k) => this.c.mesh(k),
      events: this.c.events,
    })
  }
}

/** A pass whose actions failed is a failed sync (logged once, retried); the rest were applied. */
export function throwIfFailed(r: Pick<ReconcileNodesResult, 'failed'>): void {
  if (r.failed.length === 0) return
  throw new Error(
    `node actions failed: ${r.failed.map((f) => `${f.action.kind} ${f.action.node}: ${f.error}`).join('; ')}`,
  )
}
