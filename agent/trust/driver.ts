import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { EventLog } from '../core/event-log.js'
import type { Logger } from '../core/log.js'
import type { MeshRouter } from '../mesh/router.js'
import type { CommonEffect, Step } from './effects.js'

export interface EffectSinks {
  router: MeshRouter
  log: Logger
  counters: Counters
  events: EventLog
  clock: Clock
}

/**
 * Runs one pure state machine inside the shell: feeds it an event with the time, keeps
 * the state it returns and applies its effects in order — the common ones here, its own
 * through `apply`. An effect may feed events back (to this machine or another): they run
 * after the current step's state is stored, so a machine never sees its own stale state.
 */
export class Driver<S, E, F extends { kind: string }> {
  constructor(
    private current: S,
    private readonly step: (s: S, e: E, nowMs: number) => Step<S, F>,
    private readonly apply: (f: Exclude<F, CommonEffect>) => void,
    private readonly sinks: EffectSinks,
  ) {}

  get state(): S {
    return this.current
  }

  feed(e: E): void {
    const r = this.step(this.current, e, this.sinks.clock.nowMs())
    this.current = r.state
    for (const f of r.effects)
      if (!applyCommon(f as unknown as CommonEffect, this.sinks)) this.apply(f as Exclude<F, CommonEffect>)
  }
}

/** Applies a common effect; false when it is a machine's own kind. */
export function applyCommon(f: CommonEffect, s: EffectSinks): boolean {
  switch (f.kind) {
    case 'send':
      s.router.send(f.conn, f.msg)
      return true
    case 'broadcast':
      s.router.broadcast(f.msg)
      return true
    case 'log':
      s.log[f.level](f.fields, f.text)
      return true
    case 'count':
      s.counters.inc(f.name, f.labels)
      return true
    case 'event':
      s.events.add({ atMs: s.clock.nowMs(), ...f.event })
      return true
    default:
      return false
  }
}
