import type { StatsPoint } from '../cluster-schema.js'
import { h, type VNode } from './vnode.js'

// A small line chart of the last hour, drawn on the server as SVG (and by the same code
// in the browser): no library, no script, readable without JavaScript. The picture is
// decoration for sighted readers; its label carries the numbers for everyone else.

export const CHART_WIDTH = 120
export const CHART_HEIGHT = 32
export const CHART_SPAN_MS = 3600_000

const round1 = (n: number) => Math.round(n * 10) / 10

/** "x,y x,y …" in the chart's own units, oldest first; values clamped to 0–100 %. */
export function chartPoints(points: readonly StatsPoint[], key: 'cpuPct' | 'memPct', nowMs: number): string {
  const from = nowMs - CHART_SPAN_MS
  return points
    .filter((p) => p.atMs >= from && p.atMs <= nowMs)
    .map((p) => {
      const x = ((p.atMs - from) / CHART_SPAN_MS) * CHART_WIDTH
      const y = CHART_HEIGHT - (Math.max(0, Math.min(100, p[key])) / 100) * CHART_HEIGHT
      return `${round1(x)},${round1(y)}`
    })
    .join(' ')
}

/** "now 12 %, peak 40 % in the last hour" (or that nothing was measured yet). */
export function chartSummary(points: readonly StatsPoint[], key: 'cpuPct' | 'memPct', now: number): string {
  if (points.length === 0) return 'no readings in the last hour yet'
  const peak = Math.max(...points.map((p) => p[key]))
  return `now ${Math.round(now)} %, peak ${Math.round(peak)} % in the last hour`
}

export function sparkline(
  points: readonly StatsPoint[],
  key: 'cpuPct' | 'memPct',
  opts: { label: string; now: number; nowMs: number },
): VNode {
  const line = chartPoints(points, key, opts.nowMs)
  return h(
    'svg',
    {
      class: `chart chart-${key === 'cpuPct' ? 'cpu' : 'mem'}`,
      viewbox: `0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`,
      width: CHART_WIDTH,
      height: CHART_HEIGHT,
      preserveaspectratio: 'none',
      role: 'img',
      'aria-label': `${opts.label}: ${chartSummary(points, key, opts.now)}`,
    },
    h('line', {
      class: 'chart-axis',
      x1: 0,
      y1: CHART_HEIGHT - 0.5,
      x2: CHART_WIDTH,
      y2: CHART_HEIGHT - 0.5,
    }),
    line ? h('polyline', { class: 'chart-line', points: line, fill: 'none' }) : null,
  )
}
