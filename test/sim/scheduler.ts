// The simulator's one source of time: a queue of events ordered by (time, insertion),
// so a run is a pure function of its seed. Nothing in a simulation reads a real clock.

interface Event {
  at: number
  seq: number
  fn: () => void
}

export class Scheduler {
  private heap: Event[] = []
  private seq = 0
  private t = 0
  /** Events run so far (a measure of a run's cost). */
  ran = 0

  get now(): number {
    return this.t
  }

  at(time: number, fn: () => void): void {
    this.push({ at: Math.max(time, this.t), seq: this.seq++, fn })
  }

  after(ms: number, fn: () => void): void {
    this.at(this.t + ms, fn)
  }

  /** Run every event due up to `until`; time ends at `until`. */
  runUntil(until: number): void {
    for (;;) {
      const e = this.heap[0]
      if (!e || e.at > until) break
      this.pop()
      this.t = e.at
      this.ran++
      e.fn()
    }
    this.t = Math.max(this.t, until)
  }

  /**
   * runUntil for simulations that run async production code (the coordinator, the
   * election, the lock): after every event the microtask queue is drained (a macrotask
   * boundary), so the promise chains an event resumed run at that simulated instant,
   * before anything else happens.
   */
  async runUntilAsync(until: number): Promise<void> {
    await drain()
    for (;;) {
      const e = this.heap[0]
      if (!e || e.at > until) break
      this.pop()
      this.t = e.at
      this.ran++
      e.fn()
      await drain()
    }
    this.t = Math.max(this.t, until)
  }

  private push(e: Event): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  private pop(): void {
    const h = this.heap
    const last = h.pop()!
    if (h.length === 0) return
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && less(h[l]!, h[m]!)) m = l
      if (r < h.length && less(h[r]!, h[m]!)) m = r
      if (m === i) break
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
}

function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
