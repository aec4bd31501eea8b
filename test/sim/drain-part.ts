import { silentLogger } from '../../agent/core/log.js'
import { type Random, randomBelow } from '../../agent/core/random.js'
import { acquireLock, type HeldLock } from '../../control/lock/cluster-lock.js'
import type { SimCluster } from './cluster.js'
import { SimEtcdClient } from './etcd/client.js'

// Disruptions under the cluster lock (control/lock/cluster-lock.ts, production): now and
// then a random node takes the lock to "drain" another, works in steps, and releases.
// Each step happens only while the holder's lock is valid, as the drain executor checks;
// the invariant is that no two holders ever consider themselves valid at one step.

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

export class DrainPart {
  readonly steps: DrainStep[] = []
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
    proc.run(() => {
      acquireLock(
        { holder: holder.id, operation: 'drain', node: target.id },
        { etcd, clock, log: silentLogger(), random: this.random },
      )
        .then((lock) => this.work(holder.id, target.id, lock, steps, clock))
        .catch(() => {})
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
