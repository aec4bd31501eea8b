import type { SlotReport } from '../../agent/slots/types.js'
import { kubeNodeState, type RolloutKube } from './kube.js'
import type { EtcdState, KubeNodeState, RolloutNode } from './types.js'

// Observing the cluster for the rollout: the mesh's nodes, each alive node's slot report
// (asked over 7443: the answer arrives only under a certificate naming that node, so it
// also proves the certificate), its Kubernetes Node, and etcd's voters and leader.

export interface MeshNode {
  id: string
  name: string
  alive: boolean
  deadSinceMs: number | null
  voter: boolean
  version: string | null
  startedAtMs: number | null
  /** A netbooted machine (state in RAM) and its MACs: successors.ts follows it across boots. */
  ramOnly?: boolean
  macs?: readonly string[]
  /** The ids this machine had before its last netboots (successors.ts). */
  formerIds?: string[]
}

export interface SlotsRead {
  slots: SlotReport | null
  error: string | null
  /** The node answered that it has no boot slots (not a failure to read them). */
  noSlots?: boolean
}

export async function observeNodes(
  mesh: readonly MeshNode[],
  o: {
    selfId: string
    readSlots(n: MeshNode): Promise<SlotsRead>
    kube: RolloutKube | null
    etcdHealthy(nodeId: string): boolean
  },
): Promise<RolloutNode[]> {
  return Promise.all(
    mesh.map(async (m) => {
      const s = m.alive ? await o.readSlots(m) : { slots: null, error: 'down in the mesh' }
      return {
        id: m.id,
        name: m.name,
        alive: m.alive,
        deadSinceMs: m.deadSinceMs,
        voter: m.voter,
        coordinator: m.id === o.selfId,
        version: m.version,
        startedAtMs: m.startedAtMs,
        slots: s.slots,
        slotsError: s.error,
        ...(s.noSlots ? { noSlots: true } : {}),
        kube: o.kube ? await kubeOf(o.kube, m.name) : null,
        etcdHealthy: o.etcdHealthy(m.id),
        ...(m.formerIds ? { formerIds: m.formerIds } : {}),
      }
    }),
  )
}

async function kubeOf(k: RolloutKube, name: string): Promise<KubeNodeState | null> {
  const node = await k.api.getNode(name)
  if (!node) return null
  const [pods, heartbeat] = await Promise.all([k.api.podsOnNode(name), k.leaseRenewMs(name)])
  return kubeNodeState(node, pods, heartbeat)
}

/** Tracks how long the etcd leader has been the same (a new coordinator starts counting anew). */
export class LeaderWatch {
  private leader: string | null = null
  private sinceMs: number | null = null

  seen(leader: string | null, nowMs: number): Pick<EtcdState, 'leader' | 'leaderSinceMs'> {
    if (leader !== this.leader) {
      this.leader = leader
      this.sinceMs = leader ? nowMs : null
    }
    return { leader: this.leader, leaderSinceMs: this.sinceMs }
  }
}

/**
 * How long this coordinator's mesh view has gone without a node it did not know (a
 * freshly started agent learns the mesh over a while: a rollout it completes must not
 * miss nodes its view has not shown yet). Monotonic: clock jumps do not settle it.
 */
export class ViewWatch {
  private readonly known = new Set<string>()
  private grewAtMono: number | null = null

  ageMs(names: readonly string[], monoMs: number): number {
    for (const name of names)
      if (!this.known.has(name)) {
        this.known.add(name)
        this.grewAtMono = monoMs
      }
    return monoMs - (this.grewAtMono ?? monoMs)
  }
}

/** How long this coordinator has seen the node in progress in the same step (monotonic). */
export class StepWatch {
  private key: string | null = null
  private sinceMono = 0

  ageMs(
    current: { node: string; step: string; startedAtMs: number } | null,
    monoMs: number,
  ): number | undefined {
    if (!current) {
      this.key = null
      return undefined
    }
    const key = `${current.node} ${current.step} ${current.startedAtMs}`
    if (key !== this.key) {
      this.key = key
      this.sinceMono = monoMs
    }
    return monoMs - this.sinceMono
  }
}
