import type { Counters } from './counters.js'
import type { Logger } from './log.js'

// State written to disk in the background (peers, pid files, approvals) must not fail in
// silence: a failed save is logged and counted, and the state in memory goes on.

/** Counted per failed write of state to disk, by what was being saved. */
export const STATE_SAVES_FAILED_TOTAL = 'homecloud_state_saves_failed_total'

/** A catch handler for a background save of `what`. */
export function saveFailed(
  log: Logger,
  counters: Counters | undefined,
  what: string,
): (err: unknown) => void {
  return (err) => {
    counters?.inc(STATE_SAVES_FAILED_TOTAL, { what })
    log.error(
      { err: (err as Error)?.message ?? String(err), what },
      `could not save the ${what}: kept in memory only`,
    )
  }
}
