import type { KubeApi } from '../../control/kubeapi/types.js'
import type { NodeLifecyclePolicy } from '../../control/nodes/policy.js'
import type { MeshNodeState } from '../../control/nodes/reconcile.js'
import type { Clock, Timer } from '../core/clock.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'

// The coordinator's dead-node duty on a timer: `reconcileNodes` (control/nodes) with the
// mesh's view of every node. Only the coordinator acts, and the coordinator holds its
// etcd lease only with quorum, so a minority side of a partition never taints anyone.
// client-node (through control/kubeapi) is loaded on the first pass, on the coordinator only.

export interface NodeLifecycleInit {
  kubeconfigPath: string
  policy: NodeLifecyclePolicy
  everyMs?: number
}

export interface NodeLifecycleComponents {
  clock: Clock
  log: Logger
  events?: EventLog
  /** Coordinator now, and its admin kubeconfig written. */
  mayAct(): boolean
  mesh(idOrName: string): MeshNodeState | undefined
}

export class NodeLifecycle {
  private timer: Timer | null = null
  private running = false
  private kube: KubeApi | null = null
  private lastError = ''

  constructor(
    private readonly init: NodeLifecycleInit,
    private readonly c: NodeLifecycleComponents,
  ) {}

  start(): void {
    this.timer ??= this.c.clock.setInterval(() => void this.pass(), this.init.everyMs ?? 3000)
  }

  stop(): void {
    this.timer?.cancel()
    this.timer = null
  }

  async pass(): Promise<void> {
    if (this.running || !this.c.mayAct()) return
    this.running = true
    try {
      const [{ kubeApiFromKubeconfig }, { reconcileNodes }] = await Promise.all([
        import('../../control/kubeapi/client.js'),
        import('../../control/nodes/reconcile.js'),
      ])
      this.kube ??= await kubeApiFromKubeconfig(this.init.kubeconfigPath)
      await reconcileNodes({
        kube: this.kube,
        clock: this.c.clock,
        log: this.c.log,
        policy: this.init.policy,
        isLeader: () => this.c.mayAct(),
        quorum: true,
        mesh: (k) => this.c.mesh(k),
        events: this.c.events,
      })
      this.lastError = ''
    } catch (err) {
      const msg = (err as Error).message
      if (msg !== this.lastError) this.c.log.warn({ err: msg }, 'dead-node handling skipped this pass')
      this.lastError = msg
    } finally {
      this.running = false
    }
  }
}
