import { type Random, randomBelow } from '../../agent/core/random.js'
import type { Scheduler } from './scheduler.js'

export interface NetworkOptions {
  /** One-way delay: base plus uniform jitter (jitter reorders). */
  latencyMs: number
  jitterMs: number
  /** Message faults, each a probability per message. */
  dropRate: number
  duplicateRate: number
  /** A dial takes this long to open (or to fail). */
  connectMs: number
  /** A connection whose other end is gone or cut off closes after this long (keep-alive timeout). */
  connTimeoutMs: number
  /**
   * Busy nodes: a message to or from one is also lost with this probability (an agent
   * whose event loop is seconds behind, as the etcd voters that sign were in the 50-agent lab).
   */
  busy?: { ids: ReadonlySet<string>; dropRate: number }
}

export const DEFAULT_NETWORK: NetworkOptions = {
  latencyMs: 1,
  jitterMs: 4,
  dropRate: 0,
  duplicateRate: 0,
  connectMs: 30,
  connTimeoutMs: 12_000,
}

/** What the network needs from a simulated node. */
export interface Endpoint {
  readonly id: string
  isUp(): boolean
  /** Room for one more inbound connection? */
  accepts(from: string): boolean
  /** Connection `conn` to `peer` opened or closed (ids tell a stale close from a current one). */
  opened(peer: string, conn: number): void
  closed(peer: string, conn: number): void
  deliver(from: string, msg: unknown, bytes: number): void
}

interface Conn {
  id: number
  a: string
  b: string
  /** Which ends still hold it open. */
  open: Set<string>
  unreachableSinceMs: number | null
}

/**
 * An in-memory network of long-lived connections between simulated nodes: dials,
 * messages with latency, jitter (so reordering), loss and duplication, partitions, and
 * connections that close only when the keep-alive notices, as hyperswarm's do.
 */
export class SimNetwork {
  private readonly endpoints = new Map<string, Endpoint>()
  private readonly conns = new Map<string, Conn>()
  private group = new Map<string, number>()
  private connSeq = 0
  /** Bytes and messages sent per node, for the benchmarks. */
  readonly sentBytes = new Map<string, number>()
  readonly sentMessages = new Map<string, number>()

  constructor(
    private readonly sched: Scheduler,
    private readonly random: Random,
    readonly opts: NetworkOptions,
  ) {
    this.sched.after(500, () => this.sweep())
  }

  add(e: Endpoint): void {
    this.endpoints.set(e.id, e)
  }

  /** Split the nodes into groups that cannot reach each other (`null` heals). */
  partition(groups: string[][] | null): void {
    this.group = new Map()
    groups?.forEach((g, i) => {
      for (const id of g) this.group.set(id, i)
    })
  }

  reachable(a: string, b: string): boolean {
    const ea = this.endpoints.get(a)
    const eb = this.endpoints.get(b)
    return !!ea?.isUp() && !!eb?.isUp() && (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0)
  }

  connected(a: string, b: string): boolean {
    return this.conns.get(key(a, b))?.open.has(a) ?? false
  }

  /** Does `a` hold connection `conn` to `b` open now? */
  holds(a: string, b: string, conn: number): boolean {
    const c = this.conns.get(key(a, b))
    return c?.id === conn && c.open.has(a)
  }

  /** Connection counts per node (the ends it holds open). */
  degree(id: string): number {
    let n = 0
    for (const c of this.conns.values()) if (c.open.has(id)) n++
    return n
  }

  dial(from: string, to: string): void {
    if (from === to) return
    this.sched.after(this.opts.connectMs, () => {
      if (!this.reachable(from, to) || this.connected(from, to)) return
      const target = this.endpoints.get(to)!
      if (!target.accepts(from)) return
      const old = this.conns.get(key(from, to))
      // A half-open connection (the other end restarted) is replaced by the new one.
      if (old) this.drop(old)
      const c: Conn = {
        id: ++this.connSeq,
        a: from,
        b: to,
        open: new Set([from, to]),
        unreachableSinceMs: null,
      }
      this.conns.set(key(from, to), c)
      this.notify(from, (e) => e.opened(to, c.id))
      this.notify(to, (e) => e.opened(from, c.id))
    })
  }

  /** `from` closes its end; the other end learns at once (a clean close is signalled). */
  close(from: string, to: string): void {
    const c = this.conns.get(key(from, to))
    if (c) this.drop(c)
  }

  /** A crashed node's ends vanish with it; the peers notice only by timeout. */
  crashed(id: string): void {
    for (const c of this.conns.values()) c.open.delete(id)
  }

  send(from: string, to: string, msg: unknown, bytes: number): boolean {
    const c = this.conns.get(key(from, to))
    if (!c?.open.has(from)) return false
    this.sentBytes.set(from, (this.sentBytes.get(from) ?? 0) + bytes)
    this.sentMessages.set(from, (this.sentMessages.get(from) ?? 0) + 1)
    if (this.random.next() < this.opts.dropRate) return true
    const busy = this.opts.busy
    if (busy && (busy.ids.has(from) || busy.ids.has(to)) && this.random.next() < busy.dropRate) return true
    const copies = this.random.next() < this.opts.duplicateRate ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = this.opts.latencyMs + this.random.next() * this.opts.jitterMs
      // Bytes already sent arrive even if the sender closes the connection meanwhile (a
      // clean close flushes); a partition or a dead receiver loses them.
      this.sched.after(delay, () => {
        if (!this.reachable(from, to) || (c.open.size > 0 && !c.open.has(to))) return
        this.endpoints.get(to)!.deliver(from, msg, bytes)
      })
    }
    return true
  }

  /** Keep-alive: connections cut off for connTimeoutMs close at both ends. */
  private sweep(): void {
    const now = this.sched.now
    for (const c of [...this.conns.values()]) {
      if (c.open.size === 0) {
        this.conns.delete(key(c.a, c.b))
        continue
      }
      if (this.reachable(c.a, c.b)) c.unreachableSinceMs = null
      else {
        c.unreachableSinceMs ??= now
        if (now - c.unreachableSinceMs >= this.opts.connTimeoutMs) this.drop(c)
      }
    }
    this.sched.after(500 + randomBelow(this.random, 10), () => this.sweep())
  }

  private drop(c: Conn): void {
    if (this.conns.get(key(c.a, c.b)) === c) this.conns.delete(key(c.a, c.b))
    for (const id of [...c.open]) {
      c.open.delete(id)
      this.notify(id, (e) => e.closed(id === c.a ? c.b : c.a, c.id))
    }
  }

  /** Connection changes reach a node as events of their own, never inside its own call. */
  private notify(id: string, fn: (e: Endpoint) => void): void {
    this.sched.after(0, () => {
      const e = this.endpoints.get(id)
      if (e?.isUp()) fn(e)
    })
  }
}

function key(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}
