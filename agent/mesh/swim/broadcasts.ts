import type { Update } from './types.js'

interface Entry<R> {
  key: string
  update: Update<R>
  bytes: number
  transmits: number
  /** 0 goes before 1: news of life and death before plain record updates. */
  priority: number
}

/**
 * Updates waiting to be piggybacked, each sent a bounded number of times. A newer update
 * about the same member replaces the queued one (only the latest news about a member is
 * worth spreading); urgent news (suspicions, deaths, refutations) goes before plain
 * record updates, then the least sent, oldest first; past `entriesMax` the most-sent are
 * dropped. Entries live in buckets by (priority, transmits), so taking from a queue of a
 * thousand updates on every message costs only what is taken.
 */
export class BroadcastQueue<R> {
  private readonly byKey = new Map<string, Entry<R>>()
  /** Bucket number (priority × PER_PRIORITY + transmits) → entries in insertion order. */
  private readonly buckets = new Map<number, Map<string, Entry<R>>>()

  constructor(private readonly entriesMax: number) {}

  get size(): number {
    return this.byKey.size
  }

  enqueue(key: string, update: Update<R>, bytes: number, priority = 0): void {
    this.forget(key)
    this.put({ key, update, bytes, transmits: 0, priority })
    if (this.byKey.size > this.entriesMax) this.dropMostSent()
  }

  /** Drop whatever is queued about `key` (it became stale). */
  forget(key: string): void {
    const e = this.byKey.get(key)
    if (!e) return
    this.byKey.delete(key)
    this.buckets.get(bucketOf(e))?.delete(key)
  }

  /**
   * Up to `bytesMax` of updates for one message; each taken update counts one transmission
   * and leaves the queue after `limit`. The first always fits, so one update larger than
   * the budget still goes out.
   */
  take(bytesMax: number, limit: number): Update<R>[] {
    const out: Update<R>[] = []
    const taken: Entry<R>[] = []
    let bytes = 0
    let skipped = 0
    scan: for (const b of this.order()) {
      for (const e of this.buckets.get(b)!.values()) {
        if (bytes + e.bytes > bytesMax && out.length > 0) {
          // A smaller update further on may still fit; do not look far for one.
          if (++skipped > SKIPS_MAX) break scan
          continue
        }
        out.push(e.update)
        taken.push(e)
        bytes += e.bytes
      }
    }
    for (const e of taken) {
      this.forget(e.key)
      e.transmits++
      if (e.transmits < limit) this.put(e)
    }
    return out
  }

  private put(e: Entry<R>): void {
    this.byKey.set(e.key, e)
    const b = bucketOf(e)
    let bucket = this.buckets.get(b)
    if (!bucket) {
      bucket = new Map()
      this.buckets.set(b, bucket)
    }
    bucket.set(e.key, e)
  }

  /** Non-empty buckets, most urgent first. */
  private order(): number[] {
    const out: number[] = []
    for (const [b, entries] of this.buckets) {
      if (entries.size > 0) out.push(b)
      else this.buckets.delete(b)
    }
    return out.sort((a, b) => a - b)
  }

  private dropMostSent(): void {
    const last = this.order().at(-1)
    const victim = last === undefined ? undefined : this.buckets.get(last)!.values().next().value
    if (victim) this.forget(victim.key)
  }
}

/** Updates passed over for size before a message is called full. */
const SKIPS_MAX = 16
/** Room for this many transmissions per priority (limits stay far below it). */
const PER_PRIORITY = 1024

function bucketOf<R>(e: Entry<R>): number {
  return e.priority * PER_PRIORITY + Math.min(e.transmits, PER_PRIORITY - 1)
}
