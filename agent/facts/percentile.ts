import { assert } from '../core/errors.js'

/**
 * Nearest-rank percentile (p in 0..100) of unsorted samples: always one of the
 * samples, never interpolated, so a p99 over 20 samples is the worst one.
 */
export function percentile(samples: readonly number[], p: number): number {
  assert(samples.length > 0, 'percentile of no samples')
  assert(p >= 0 && p <= 100, `percentile ${p} outside 0..100`)
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.max(0, rank - 1)]!
}
