import { type Random, seededRandom } from '../../agent/core/random.js'
import { DEFAULT_LINK_TIMINGS, type LinkTimings } from '../../agent/mesh/links/book.js'
import { DEFAULT_LINK_LIMITS, type LinkLimits } from '../../agent/mesh/links/choose.js'
import { DEFAULT_SWIM_CONFIG, type SwimConfig } from '../../agent/mesh/swim/config.js'
import type { MemberEvent, MemberState } from '../../agent/mesh/swim/types.js'
import { DEFAULT_NETWORK, type NetworkOptions, SimNetwork } from './network.js'
import { Scheduler } from './scheduler.js'
import { defaultSwimEnv, SwimNode } from './swim-node.js'

export interface SwimClusterOptions {
  nodes: number
  seed: number
  swim?: Partial<SwimConfig>
  links?: Partial<LinkLimits>
  linkTimings?: Partial<LinkTimings>
  net?: Partial<NetworkOptions>
  /** Nodes start spread over this long (0: all at once). */
  startSpreadMs?: number
  /** How many of the first nodes serve as everyone's bootstrap list. */
  bootstrapNodes?: number
}

/** Node ids like the agent's: 20 hex digits, here drawn from the seed. */
export function simIds(random: Random, n: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    let s = ''
    for (let j = 0; j < 20; j++) s += Math.floor(random.next() * 16).toString(16)
    out.push(s)
  }
  return out
}

/**
 * A whole cluster's membership in one process: N SwimNodes on one SimNetwork, driven by
 * one Scheduler from one seed. Records every death each node notices, for the
 * benchmarks and the invariants.
 */
export class SwimCluster {
  readonly sched = new Scheduler()
  readonly random: Random
  readonly net: SimNetwork
  readonly nodes: SwimNode[]
  readonly byId = new Map<string, SwimNode>()
  /** subject → observer → when (mono) it was first seen dead since `resetDeaths`. */
  readonly deadSeen = new Map<string, Map<string, number>>()
  /** Deaths declared about a node that was up and unpaused at that moment. */
  falseDeaths: { subject: string; observer: string; atMs: number }[] = []

  constructor(readonly opts: SwimClusterOptions) {
    this.random = seededRandom(opts.seed)
    this.net = new SimNetwork(this.sched, seededRandom(opts.seed + 1), { ...DEFAULT_NETWORK, ...opts.net })
    const ids = simIds(this.random, opts.nodes)
    const boot = ids.slice(0, Math.max(1, opts.bootstrapNodes ?? 3))
    const env = {
      ...defaultSwimEnv(this.sched, this.net, opts.seed, boot, (observer, e, atMs) =>
        this.onEvent(observer, e, atMs),
      ),
      swim: { ...DEFAULT_SWIM_CONFIG, ...opts.swim },
      links: { ...DEFAULT_LINK_LIMITS, ...opts.links },
      linkTimings: { ...DEFAULT_LINK_TIMINGS, ...opts.linkTimings },
    }
    this.nodes = ids.map((id) => new SwimNode(id, env))
    for (const n of this.nodes) this.byId.set(n.id, n)
  }

  get now(): number {
    return this.sched.now
  }

  startAll(): void {
    const spread = this.opts.startSpreadMs ?? 0
    this.nodes.forEach((n, i) => {
      this.sched.at(this.now + (spread * i) / Math.max(1, this.nodes.length - 1), () => n.start())
    })
  }

  run(ms: number): void {
    this.sched.runUntil(this.now + ms)
  }

  /** Run until `pred` holds (checked every `stepMs`) or `maxMs` passes; returns the time taken or null. */
  runUntil(pred: () => boolean, maxMs: number, stepMs = 100): number | null {
    const start = this.now
    while (this.now - start < maxMs) {
      if (pred()) return this.now - start
      this.run(stepMs)
    }
    return pred() ? this.now - start : null
  }

  up(): SwimNode[] {
    return this.nodes.filter((n) => n.isUp())
  }

  /** What `observer` believes about every other node. */
  view(observer: SwimNode): Map<string, MemberState> {
    const out = new Map<string, MemberState>()
    for (const m of observer.liveness?.swim.members() ?? []) out.set(m.id, m.state)
    return out
  }

  /** Every up node sees every up node alive and no down node alive or suspect. */
  converged(): boolean {
    const up = this.up()
    const upIds = new Set(up.map((n) => n.id))
    for (const o of up) {
      const v = this.view(o)
      for (const n of this.nodes) {
        if (n === o) continue
        const s = v.get(n.id)
        if (upIds.has(n.id) ? s !== 'alive' : s === 'alive' || s === 'suspect') return false
      }
    }
    return true
  }

  /** Have all up nodes seen `subject` dead? */
  deadEverywhere(subject: string): boolean {
    const seen = this.deadSeen.get(subject)
    return this.up().every((o) => o.id === subject || seen?.has(o.id))
  }

  resetDeaths(): void {
    this.deadSeen.clear()
    this.falseDeaths = []
  }

  private onEvent(observer: string, e: MemberEvent, atMs: number): void {
    if (e.kind !== 'dead') return
    let seen = this.deadSeen.get(e.id)
    if (!seen) {
      seen = new Map()
      this.deadSeen.set(e.id, seen)
    }
    if (!seen.has(observer)) seen.set(observer, atMs)
    const subject = this.byId.get(e.id)
    if (subject?.isUp() && !subject.proc.isPaused && this.net.reachable(observer, e.id))
      this.falseDeaths.push({ subject: e.id, observer, atMs })
  }
}
