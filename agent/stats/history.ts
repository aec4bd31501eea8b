import type { MachineSample, NodeStatsView, StatsPoint, StatsSource } from './schema.js'

// The last hour of one node's readings: a bounded buffer, and the view the page draws
// from it (the newest reading in full, and at most one point a minute for the chart).

export const historyMs = 3600_000
export const samplesMax = 256
export const chartPointsMax = 60

export class StatsHistory {
  private readonly samples: MachineSample[] = []

  constructor(private readonly max = samplesMax) {}

  /** Keeps readings in time order; one older than the newest held is dropped (a replay). */
  add(s: MachineSample): void {
    const last = this.samples[this.samples.length - 1]
    if (last && s.atMs <= last.atMs) return
    this.samples.push(s)
    if (this.samples.length > this.max) this.samples.splice(0, this.samples.length - this.max)
  }

  /** Readings strictly newer than `atMs`, oldest first, at most `limit`. */
  since(atMs: number, limit = this.max): MachineSample[] {
    const out = this.samples.filter((s) => s.atMs > atMs)
    return out.slice(Math.max(0, out.length - limit))
  }

  latest(): MachineSample | undefined {
    return this.samples[this.samples.length - 1]
  }

  /** Drops what is older than the window (called as time passes). */
  prune(nowMs: number): void {
    const from = nowMs - historyMs
    const keep = this.samples.findIndex((s) => s.atMs >= from)
    if (keep < 0) this.samples.length = 0
    else if (keep > 0) this.samples.splice(0, keep)
  }

  view(source: StatsSource, nowMs: number): NodeStatsView | undefined {
    const last = this.latest()
    if (!last) return undefined
    return {
      source,
      atMs: last.atMs,
      cpuPct: last.cpuPct,
      memUsedMB: last.memUsedMB,
      memTotalMB: last.memTotalMB,
      diskUsedPct: last.diskUsedPct,
      tempC: last.tempC,
      throttled: last.throttled,
      history: minutePoints(this.samples, nowMs),
    }
  }
}

const pct = (used: number, total: number) => (total > 0 ? Math.min(100, (100 * used) / total) : 0)

/**
 * One point per minute of the last hour (the mean of that minute's readings), oldest
 * first: what the chart draws, whatever the sampling period.
 */
export function minutePoints(samples: readonly MachineSample[], nowMs: number): StatsPoint[] {
  const from = nowMs - historyMs
  const buckets = new Map<number, { n: number; cpu: number; mem: number; atMs: number }>()
  for (const s of samples) {
    if (s.atMs < from || s.atMs > nowMs) continue
    const minute = Math.floor(s.atMs / 60_000)
    const b = buckets.get(minute) ?? { n: 0, cpu: 0, mem: 0, atMs: 0 }
    b.n++
    b.cpu += s.cpuPct
    b.mem += pct(s.memUsedMB, s.memTotalMB)
    b.atMs = Math.max(b.atMs, s.atMs)
    buckets.set(minute, b)
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .slice(-chartPointsMax)
    .map(([, b]) => ({ atMs: b.atMs, cpuPct: round1(b.cpu / b.n), memPct: round1(b.mem / b.n) }))
}

function round1(n: number): number {
  return Math.round(n * 10) / 10
}
