// Time is injected everywhere so decisions can be tested with a simulated clock;
// only the shell (timers, sockets) ever touches the real one.
export interface Clock {
  /** Milliseconds since the epoch (wall time, for display and records). */
  nowMs(): number
  /** Monotonic milliseconds (for durations and timeouts; never jumps). */
  monoMs(): number
  setTimeout(fn: () => void, ms: number): Timer
  setInterval(fn: () => void, ms: number): Timer
}

export interface Timer {
  cancel(): void
}

/**
 * The real clock. `keepAlive: false` (the agent's): timers never hold the process open.
 * `keepAlive: true`: a pending timer does, for a CLI or test whose only remaining work is
 * waiting out a back-off or a lease.
 */
export function systemClock(opts: { keepAlive?: boolean } = {}): Clock {
  const hold = (t: NodeJS.Timeout) => {
    if (!opts.keepAlive) t.unref?.()
    return t
  }
  return {
    nowMs: () => Date.now(),
    monoMs: () => performance.now(),
    setTimeout(fn, ms) {
      const t = hold(setTimeout(fn, ms))
      return { cancel: () => clearTimeout(t) }
    },
    setInterval(fn, ms) {
      const t = hold(setInterval(fn, ms))
      return { cancel: () => clearInterval(t) }
    },
  }
}

/** A clock driven by the test: time moves only when `advance` is called. */
export function manualClock(startMs = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = startMs
  let mono = 0
  type Pending = { at: number; fn: () => void; every?: number; cancelled: boolean }
  const pending: Pending[] = []
  const schedule = (fn: () => void, ms: number, every?: number): Timer => {
    const p: Pending = { at: mono + ms, fn, every, cancelled: false }
    pending.push(p)
    return {
      cancel: () => {
        p.cancelled = true
      },
    }
  }
  return {
    nowMs: () => now,
    monoMs: () => mono,
    setTimeout: (fn, ms) => schedule(fn, ms),
    setInterval: (fn, ms) => schedule(fn, ms, ms),
    advance(ms: number) {
      const end = mono + ms
      for (;;) {
        const due = pending.filter((p) => !p.cancelled && p.at <= end).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        now += due.at - mono
        mono = due.at
        if (due.every) due.at += due.every
        else due.cancelled = true
        due.fn()
      }
      now += end - mono
      mono = end
    },
  }
}

/** Resolves after `ms` on `clock` (a shell's wait between polls; decisions never sleep). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}
