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

/**
 * Background saves of one piece of state, one at a time and in the order asked. Two
 * saves of the same file fired together (an adopted list, then the union signed a moment
 * later) each write a temp file and rename it; their renames land in any order, so the
 * older content could win on disk while memory holds the newer, and nothing would save
 * it again. Here a save waits for the one in flight; while it waits a newer save of the
 * same state replaces it (only the newest content matters), so the last save asked is
 * the last written.
 */
export class SaveLanes {
  private readonly lanes = new Map<string, Lane>()

  constructor(private readonly failed: (what: string) => (err: unknown) => void) {}

  /** Queues `write` as the newest save of `what`; resolves once it (or a newer one) is on disk or failed. */
  save(what: string, write: () => Promise<void>): Promise<void> {
    let lane = this.lanes.get(what)
    if (!lane) {
      lane = { next: null, idle: null }
      this.lanes.set(what, lane)
    }
    lane.next = write
    if (!lane.idle) lane.idle = this.drain(what, lane)
    return lane.idle
  }

  /** Resolves once every save asked so far has run. */
  async flushed(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.idle))
  }

  private async drain(what: string, lane: Lane): Promise<void> {
    // Let the caller's synchronous saves of this tick queue up first: only the newest runs.
    await Promise.resolve()
    while (lane.next) {
      const write = lane.next
      lane.next = null
      await write().catch(this.failed(what))
    }
    lane.idle = null
  }
}

interface Lane {
  /** The newest save not started yet. */
  next: (() => Promise<void>) | null
  /** While saves run: resolves when the lane is empty. */
  idle: Promise<void> | null
}
