import type { Clock, Timer } from '../../agent/core/clock.js'
import type { Scheduler } from './scheduler.js'

interface Busy {
  untilMs: number
  costMs: number
  timers: (() => void)[]
  io: (() => void)[]
  /** An iteration is under way: new work waits for the next. */
  running: boolean
}

/**
 * One simulated agent process: up, down (crashed), or paused (SIGSTOP, or starved of
 * CPU). Everything that reaches the node — timers, messages, connection changes — goes
 * through `run`, which drops it if the process died since it was scheduled and holds it
 * while paused. On resume, timers that came due run before messages that waited, as a
 * starved Node process does (its timers phase runs before its I/O phase).
 */
export class SimProcess {
  private epoch = 0
  private up = false
  private pausedUntil = 0
  /** Wall-clock offset: clock jumps move it; monotonic time never jumps. */
  private wallSkewMs = 0
  private busy: Busy | null = null

  constructor(
    private readonly sched: Scheduler,
    private readonly wallStartMs: number,
  ) {}

  get isUp(): boolean {
    return this.up
  }

  get isPaused(): boolean {
    return this.up && this.sched.now < this.pausedUntil
  }

  start(): void {
    this.epoch++
    this.up = true
    this.pausedUntil = 0
    this.busy = null
  }

  crash(): void {
    this.epoch++
    this.up = false
    this.busy = null
  }

  /**
   * Overloaded until `untilMs` (scheduler time), as a Node process whose event loop cannot
   * keep up: everything it runs costs `costMs`, and it runs in loop iterations — the timers
   * due, then every message that had arrived — so what arrives meanwhile waits for the next
   * iteration, behind its timers. (A timer's lateness is then about an iteration, as in Node.)
   */
  overload(untilMs: number, costMs: number): void {
    this.busy = { untilMs, costMs, timers: [], io: [], running: false }
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.sched.now + ms)
  }

  jumpWallClock(ms: number): void {
    this.wallSkewMs += ms
  }

  /** Run `fn` in this process (now, later if paused, never if it died meanwhile). */
  run(fn: () => void, kind: 'timer' | 'io'): void {
    const epoch = this.epoch
    const go = () => {
      if (!this.up || this.epoch !== epoch) return
      if (this.sched.now < this.pausedUntil) {
        // Timers come due at the resume instant, I/O a hair later.
        this.sched.at(this.pausedUntil + (kind === 'io' ? 0.001 : 0), go)
        return
      }
      const b = this.busy
      if (b && (b.running || this.sched.now < b.untilMs)) {
        ;(kind === 'timer' ? b.timers : b.io).push(() => {
          if (this.up && this.epoch === epoch) fn()
        })
        if (!b.running) this.iterate(b)
        return
      }
      fn()
    }
    go()
  }

  /** One loop iteration of an overloaded process; the next starts when it is done. */
  private iterate(b: Busy): void {
    const batch = [...b.timers.splice(0), ...b.io.splice(0)]
    b.running = batch.length > 0
    if (!b.running) {
      if (this.busy === b && this.sched.now >= b.untilMs) this.busy = null
      return
    }
    const start = this.sched.now
    batch.forEach((f, i) => {
      this.sched.at(start + i * b.costMs, f)
    })
    this.sched.at(start + batch.length * b.costMs, () => this.iterate(b))
  }

  /** The Clock this process's code sees. */
  clock(): Clock {
    const timer = (fn: () => void, ms: number, every?: number): Timer => {
      let cancelled = false
      const epoch = this.epoch
      const fire = () => {
        if (cancelled || this.epoch !== epoch) return
        this.run(() => {
          if (cancelled) return
          if (every !== undefined) this.sched.after(every, fire)
          fn()
        }, 'timer')
      }
      this.sched.after(Math.max(0, ms), fire)
      return {
        cancel: () => {
          cancelled = true
        },
      }
    }
    return {
      // Whole milliseconds, as Date.now() (records such as the lock's and the rollout's require them).
      nowMs: () => Math.floor(this.wallStartMs + this.sched.now + this.wallSkewMs),
      monoMs: () => this.sched.now,
      setTimeout: (fn, ms) => timer(fn, ms),
      setInterval: (fn, ms) => timer(fn, ms, ms),
    }
  }
}
