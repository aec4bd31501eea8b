import type { ClusterView } from '../api/cluster-schema.js'
import type { PeerClient } from '../api/peer-client.js'
import type { ControlPlane } from '../controlplane/index.js'
import { Controller } from '../core/controller.js'
import type { NodeBase } from './node.js'
import type { RolloutDeps } from './rollout-deps.js'
import { meshNodes, tlsUrl } from './rollout-deps.js'
import type { UpgradeAnswer } from './upgrade-routes.js'

// What the status page shows of the rollout: the same answer as `homecloud upgrade status`
// (GET /api/v1/upgrade), made here on a node that reads etcd, else asked of a voter over
// 7443 with this node's certificate. Refreshed by a controller every few seconds; the page
// reads the last summary (null: no rollout, or nobody answered yet).

export type RolloutSummary = NonNullable<ClusterView['rollout']>

export const rolloutViewEveryMs = 5000
const upgradeAnswerBytesMax = 512 * 1024

export class RolloutView {
  private last: RolloutSummary | null = null
  private readonly ctl: Controller

  constructor(
    n: NodeBase,
    private readonly d: RolloutDeps,
    private readonly o: { peers: PeerClient; local: ((cp: ControlPlane) => Promise<UpgradeAnswer>) | null },
  ) {
    this.ctl = new Controller(
      {
        name: 'rollout-view',
        keys: () => ['rollout'],
        resyncMs: rolloutViewEveryMs,
        backoff: { initialDelayMs: rolloutViewEveryMs, factor: 1, delayMsMax: rolloutViewEveryMs, jitter: 0 },
        sync: async () => {
          const a = await this.fetch()
          this.last = a ? summarize(a) : null
        },
      },
      { clock: n.clock, random: n.random, log: n.log, counters: n.counters },
    )
  }

  summary(): RolloutSummary | null {
    return this.last
  }

  start(): void {
    this.ctl.start()
  }

  stop(): Promise<void> {
    return this.ctl.stop()
  }

  private async fetch(): Promise<UpgradeAnswer | null> {
    const cp = this.d.controlPlane
    if (cp && this.o.local && cp.local.client()) return this.o.local(cp)
    // Ask the voters in turn: the first that reads etcd answers.
    for (const v of meshNodes(this.d.mesh).filter((m) => m.voter && m.alive && m.address)) {
      const a = await this.o.peers
        .get({
          url: `${tlsUrl(v)}/api/v1/upgrade`,
          nodeId: v.id,
          bodyBytesMax: upgradeAnswerBytesMax,
          timeoutMs: 5000,
          what: 'upgrade',
        })
        .catch(() => null)
      if (a) return a as UpgradeAnswer
    }
    return null
  }
}

/** The upgrade answer → what the page shows (pure). */
export function summarize(a: UpgradeAnswer): RolloutSummary | null {
  const r = a.rollout
  if (!r) return null
  return {
    phase: r.phase,
    target: r.target?.version ?? null,
    waiting: r.waiting ?? null,
    current: r.current
      ? { name: r.current.name, step: r.current.step, sinceMs: r.current.stepSinceMs }
      : null,
    halt: r.halt?.reason ?? null,
    lock: a.lock?.summary ?? null,
    bad: r.bad.map((b) => ({ version: b.version, node: b.node, reason: b.reason })),
    nodes: a.nodes.map((n) => ({
      name: n.name,
      version: n.version,
      slot: n.slots?.booted ? `${n.slots.booted}${n.slots.committed ? ' (committed)' : ' (trying)'}` : null,
      step: n.step,
      outcome: n.outcome,
    })),
  }
}
