import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  CHART_HEIGHT,
  CHART_WIDTH,
  chartPoints,
  chartSummary,
  sparkline,
} from '../../../../agent/api/page/chart.js'
import { machinesSection } from '../../../../agent/api/page/machines.js'
import { SVG_NS, toDom } from '../../../../agent/api/page/to-dom.js'
import { toHtml } from '../../../../agent/api/page/to-html.js'
import { clusterView, member, NOW } from './fixtures.js'

const points = [
  { atMs: NOW - 3600_000, cpuPct: 0, memPct: 50 },
  { atMs: NOW - 1800_000, cpuPct: 50, memPct: 50 },
  { atMs: NOW, cpuPct: 100, memPct: 150 },
]

describe('chart of the last hour (server-side SVG)', () => {
  test('time runs left to right over the hour, 0–100 % bottom to top, clamped', () => {
    assert.equal(chartPoints(points, 'cpuPct', NOW), `0,${CHART_HEIGHT} 60,16 ${CHART_WIDTH},0`)
    assert.equal(chartPoints(points, 'memPct', NOW), '0,16 60,16 120,0')
    // Points outside the hour (or from the future) are left out.
    assert.equal(chartPoints([{ atMs: NOW - 3600_001, cpuPct: 5, memPct: 5 }], 'cpuPct', NOW), '')
    assert.equal(chartPoints([{ atMs: NOW + 1, cpuPct: 5, memPct: 5 }], 'cpuPct', NOW), '')
  })

  test('an image with a label carrying the numbers; no line when there is nothing to draw', () => {
    const html = toHtml(sparkline(points, 'cpuPct', { label: 'CPU', now: 100, nowMs: NOW }))
    assert.match(
      html,
      /^<svg class="chart chart-cpu" viewbox="0 0 120 32" width="120" height="32" preserveaspectratio="none" role="img" aria-label="CPU: now 100 %, peak 100 % in the last hour">/,
    )
    assert.match(html, /<polyline class="chart-line" points="0,32 60,16 120,0" fill="none"><\/polyline>/)
    const empty = toHtml(sparkline([], 'memPct', { label: 'Memory', now: 0, nowMs: NOW }))
    assert.doesNotMatch(empty, /polyline/)
    assert.match(empty, /aria-label="Memory: no readings in the last hour yet"/)
    assert.equal(chartSummary(points, 'cpuPct', 12.4), 'now 12 %, peak 100 % in the last hour')
  })

  test('in the browser the same tree becomes SVG elements, with the attributes’ real case', () => {
    const made: { ns: string | null; tag: string; attrs: Record<string, string> }[] = []
    const doc = {
      createElement: (tag: string) => el(null, tag),
      createElementNS: (ns: string, tag: string) => el(ns, tag),
      createTextNode: () => ({ nodeType: 3 }),
    }
    function el(ns: string | null, tag: string) {
      const rec = { ns, tag, attrs: {} as Record<string, string> }
      made.push(rec)
      return {
        nodeType: 1,
        id: '',
        setAttribute: (k: string, v: string) => {
          rec.attrs[k] = v
        },
        append() {},
        replaceChildren() {},
        replaceWith() {},
      }
    }
    toDom(sparkline(points, 'cpuPct', { label: 'CPU', now: 1, nowMs: NOW }), doc)
    assert.deepEqual(
      made.map((m) => [m.ns, m.tag]),
      [
        [SVG_NS, 'svg'],
        [SVG_NS, 'line'],
        [SVG_NS, 'polyline'],
      ],
    )
    assert.equal(made[0]!.attrs.viewBox, '0 0 120 32')
    assert.equal(made[0]!.attrs.preserveAspectRatio, 'none')
  })
})

describe('machines section', () => {
  test('each node’s CPU, memory, disk, temperature and throttling; lab numbers said to be the lab’s', () => {
    const stats = {
      source: 'machine' as const,
      atMs: NOW - 5000,
      cpuPct: 12.3,
      memUsedMB: 1536,
      memTotalMB: 4096,
      diskUsedPct: 41.6,
      tempC: 61.2,
      throttled: true,
      history: points,
    }
    const view = clusterView({}, [
      member({ name: 'pi5-1', self: true, stats }),
      member({ name: 'lab-1', stats: { ...stats, source: 'lab', tempC: null, throttled: null } }),
      member({ name: 'quiet' }),
      member({ name: 'gone', state: 'dead', stats }),
    ])
    const html = toHtml(machinesSection(view, NOW))
    assert.match(html, /CPU 12 %/)
    assert.match(html, /Memory 1\.5 GB of 4 GB \(38 %\)/)
    assert.match(html, /<dt>Disk<\/dt><dd>42 % used<\/dd>/)
    assert.match(html, /<dt>Temperature<\/dt><dd>61 °C<\/dd>/)
    assert.match(html, /yes: under-voltage or heat/)
    assert.match(html, /<dt>Temperature<\/dt><dd>not reported<\/dd>/)
    assert.match(html, /Lab boards share one computer/)
    assert.match(html, /No readings yet\./)
    assert.match(html, /<dt>Last reading<\/dt><dd>5 s ago<\/dd>/)
    assert.equal(html.match(/<svg /g)?.length, 6)
  })
})
