// What "the same truth on every node" and the machines' charts cost: a 5-node loopback
// lab whose pages are read (a worker's API polled every 2 s), then every node's own
// counters of what it pulled over 7443 — a voter's etcd view and each peer's readings.
// Beside it, the naive way: the same reading put into every heartbeat record. And the
// page itself with those sections for 100 members.
import { performance } from 'node:perf_hooks'
import { renderStatusPage } from '../../agent/api/page/document.js'
import { nodeUrl } from '../../lab/launcher.js'
import { fetchClusterView } from '../../lab/wait.js'
import { NOW } from '../unit/agent/api/fixtures.js'
import { benchLab } from './lab.js'
import { simulatedView } from './page.bench.js'
import { median } from './stats.js'
import type { BenchContext, Row } from './types.js'

export const name = 'status'

const NODES = 5
const HEARTBEAT_MS = 500
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Sum of one counter family's samples with these labels across the metrics text. */
function counter(text: string, name: string, labels: string): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(' ').pop())
  }
  return sum
}

async function metricsOf(address: string): Promise<string> {
  return (await fetch(new URL('/metrics', nodeUrl({ address })))).text()
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const windowMs = ctx.quick ? 40_000 : 90_000
  const lab = await benchLab(ctx, 'status', { nodes: NODES })
  try {
    const nodes = lab.lab.nodes
    const worker = nodes[NODES - 1]!
    ctx.progress(`status: reading every node's page for ${windowMs / 1000} s`)
    const started = Date.now()
    let viewBytes = 0
    while (Date.now() - started < windowMs) {
      for (const n of nodes) {
        const res = await fetch(new URL('/api/v1/cluster', nodeUrl(n)))
        const body = await res.text()
        if (n === worker) viewBytes = Buffer.byteLength(body)
      }
      await sleep(2000)
    }
    const texts = await Promise.all(nodes.map((n) => metricsOf(n.address)))
    const sum = (name: string, what: string) =>
      texts.reduce((a, t) => a + counter(t, name, `what="${what}"`), 0)
    const cpBytes = sum('homecloud_peer_api_bytes_total', 'control-plane')
    const cpRequests = sum('homecloud_peer_api_requests_total', 'control-plane')
    const statsBytes = sum('homecloud_peer_api_bytes_total', 'stats')
    const statsRequests = sum('homecloud_peer_api_requests_total', 'stats')
    const seconds = windowMs / 1000
    rows.push(
      {
        metric: 'control plane through a voter: answer size (etcd view + Kubernetes Nodes)',
        value: cpRequests > 0 ? Math.round(cpBytes / cpRequests) : null,
        unit: 'B',
        note: `${cpRequests} answers to the workers in ${seconds} s`,
      },
      {
        metric: 'control plane through a voter: per worker',
        value: Math.round(cpBytes / 2 / seconds),
        unit: 'B/s',
        note: 'two workers in a 5-node lab; one request every 2 s each',
      },
      {
        metric: 'peers’ readings pulled while read: per node',
        value: Math.round(statsBytes / NODES / seconds),
        unit: 'B/s',
        note: `${statsRequests} pulls, ${statsRequests > 0 ? Math.round(statsBytes / statsRequests) : '-'} B each on average (the first one carries the backlog)`,
      },
    )
    const view = await fetchClusterView(nodeUrl(worker))
    const sample = view?.members.find((m) => m.stats)?.stats
    if (sample) {
      const { history: _h, ...reading } = sample
      const readingBytes = Buffer.byteLength(JSON.stringify(reading))
      rows.push({
        metric: 'naive: the reading in every heartbeat record, per node',
        value: Math.round((readingBytes * (NODES - 1) * 1000) / HEARTBEAT_MS),
        unit: 'B/s',
        note: `${readingBytes} B a reading × ${NODES - 1} peers × ${1000 / HEARTBEAT_MS} heartbeats/s, read or not`,
      })
    }
    rows.push({
      metric: 'cluster view with Nodes, machines and charts (5 nodes)',
      value: viewBytes,
      unit: 'B',
      note: 'GET /api/v1/cluster on a worker; also each live update',
    })
  } finally {
    await lab.close()
  }

  // The page with 100 members, each with a Kubernetes Node and an hour of readings.
  const view = simulatedView()
  for (const [i, m] of view.members.entries()) {
    m.kube = {
      name: m.name,
      ready: i % 9 === 2 ? 'False' : 'True',
      kubeletVersion: 'v1.37.1',
      podsRunning: i % 12,
      unschedulable: i % 17 === 3,
      cordonedBy: i % 17 === 3 ? 'homecloud' : null,
      drain: null,
      upgradeStep: null,
    }
    m.stats = {
      source: 'machine',
      atMs: NOW - 5000,
      cpuPct: (i * 13) % 100,
      memUsedMB: 1024 + i,
      memTotalMB: 8192,
      diskUsedPct: 40,
      tempC: 55,
      throttled: false,
      history: Array.from({ length: 60 }, (_, k) => ({
        atMs: NOW - (60 - k) * 60_000,
        cpuPct: (k * 7 + i) % 100,
        memPct: 30 + ((k + i) % 20),
      })),
    }
  }
  const times: number[] = []
  let html = ''
  for (let i = 0; i < (ctx.quick ? 20 : 100); i++) {
    const t0 = performance.now()
    html = renderStatusPage(view, NOW)
    times.push(performance.now() - t0)
  }
  rows.push(
    {
      metric: 'render the page, 100 members with Nodes and charts, median',
      value: median(times),
      unit: 'ms',
      goal: { max: 50 },
    },
    { metric: 'that page’s size', value: Buffer.byteLength(html), unit: 'B' },
    {
      metric: 'its cluster view (JSON, also each live update)',
      value: Buffer.byteLength(JSON.stringify(view)),
      unit: 'B',
    },
  )
  return rows
}
