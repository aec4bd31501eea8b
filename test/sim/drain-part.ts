import { silentLogger } from '../../agent/core/log.js'
import { type Random, randomBelow } from '../../agent/core/random.js'
import { acquireLock, type HeldLock } from '../../control/lock/cluster-lock.js'
import { mayTakeLock } from '../../control/lock/decide.js'
import { readRolloutHold } from '../../control/lock/take.js'
import { ROLLOUT_KEY } from '../../control/rollout/record.js'
import type { SimCluster } from './cluster.js'
import { SimEtcdClient } from './etcd/client.js'

// Disruptions under the cluster lock (control/lock/cluster-lock.ts, production): now and
// then a random node takes the lock to "drain" another, works in steps, and releases.
// It asks as takeClusterLock does (control/lock/take.ts): the rollout's hold on a node in
// progress refuses it (mayTakeLock), fenced on the rollout record's revision in the take.
// Node and voter health are not modelled here. Each step happens only while the holder's
// lock is valid, as the drain executor checks; the invariant is that no two holders ever
// consider themselves valid at one step.

const MEAN_GAP_MS = 8000
const STEP_MS = 500

export interface DrainStep {
  atMs: number
  holder: string
  node: string
  token: number
  /** Other holders that were valid at that very moment (must be none). */
  overlapping: string[]
}

/** One drain asked for: taken, or refused and why (the rollout's hold, the lock held, the record moved). */
export interface DrainAsk {
  atMs: number
  node: string
  outcome: string
}

export class DrainPart {
  readonly steps: DrainStep[] = []
  readonly asks: DrainAsk[] = []
  private readonly held = new Map<string, HeldLock>()
  /** Other holders valid now (the rollout's coordinators), counted as overlapping too. */
  otherHolders: () => string[] = () => []

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    enabled: boolean,
  ) {
    if (enabled) this.next()
  }

  /** Drain holders whose lock is valid now. */
  validHolders(): string[] {
    return [...this.held].filter(([, l]) => l.isValid()).map(([k]) => k)
  }

  private next(): void {
    this.cluster.sched.after(MEAN_GAP_MS / 2 + this.random.next() * MEAN_GAP_MS, () => {
      this.attempt()
      this.next()
    })
  }

  private attempt(): void {
    const up = this.cluster.up()
    if (up.length < 2) return
    const holder = up[randomBelow(this.random, up.length)]!
    const target = this.cluster.agents[randomBelow(this.random, this.cluster.agents.length)]!
    const proc = holder.node.proc
    const clock = proc.clock()
    const etcd = new SimEtcdClient(this.cluster.etcd, holder.id, proc)
    const steps = 2 + randomBelow(this.random, 10)
    const asked = (outcome: string) => this.asks.push({ atMs: this.cluster.now, node: target.id, outcome })
    proc.run(() => {
      void (async () => {
        const seen = await readRolloutHold(etcd)
        // Health is not modelled (a neutral input): only the rollout's hold decides here.
        const d = mayTakeLock({
          node: target.id,
          nodes: [],
          voters: { healthy: 0, total: 0, target: 0 },
          rollout: seen.rollout,
          force: false,
        })
        if (!d.ok) return asked(`refused: ${d.reasons.join('; ')}`)
        const lock = await acquireLock(
          { holder: holder.id, operation: 'drain', node: target.id },
          { etcd, clock, log: silentLogger(), random: this.random },
          { unchanged: { key: ROLLOUT_KEY, modRevision: seen.rolloutRevision } },
        )
        asked('taken')
        this.work(holder.id, target.id, lock, steps, clock)
      })().catch((err: Error) => asked(`failed: ${err.message}`))
    }, 'io')
  }

  private work(
    holder: string,
    node: string,
    lock: HeldLock,
    steps: number,
    clock: { setTimeout(fn: () => void, ms: number): unknown },
  ): void {
    const key = `${holder}:${lock.token}`
    this.held.set(key, lock)
    const step = (left: number) => {
      if (left === 0 || !lock.isValid()) {
        this.held.delete(key)
        void lock.release()
        return
      }
      const overlapping = [...this.validHolders().filter((k) => k !== key), ...this.otherHolders()]
      this.steps.push({ atMs: this.cluster.now, holder, node, token: lock.token, overlapping })
      clock.setTimeout(() => step(left - 1), STEP_MS)
    }
    step(steps)
  }
}
