// The status page and its API with 100 simulated members, over real HTTP on
// 127.0.0.1: page (GET /) and JSON (GET /api/v1/cluster) latency, and SSE fan-out
// (how long until 50 live viewers of /api/v1/events all have a changed view).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { ClusterView, MemberView } from '../../agent/api/cluster-schema.js'
import { buildApiServer } from '../../agent/api/server.js'
import { DEFAULT_SSE_LIMITS } from '../../agent/api/sse.js'
import { Counters } from '../../agent/core/counters.js'
import { silentLogger } from '../../agent/core/log.js'
import { clusterView, member, NOW } from '../unit/agent/api/fixtures.js'
import { max, median } from './stats.js'
import type { BenchContext, Row } from './types.js'

export const name = 'page'

const MEMBERS = 100
const PAGE_GOAL_MS = 50
const SSE_CLIENTS = 50
const ROUND_TIMEOUT_MS = 5000

/** Nearest-rank percentile of the measured numbers. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const v = [...values].sort((a, b) => a - b)
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)]!
}

/** 100 members as a busy cluster looks: mixed boards and states, 3 voters, a reason per board, a full timeline. */
export function simulatedView(): ClusterView {
  const boards = ['Raspberry Pi 5 Model B', 'Radxa ROCK 5B', 'Raspberry Pi 4 Model B Rev 1.4', 'Intel NUC']
  const members: MemberView[] = []
  for (let i = 0; i < MEMBERS; i++) {
    const sd = i % 7 === 3
    members.push(
      member({
        name: `node-${String(i).padStart(3, '0')}`,
        self: i === 0,
        board: boards[i % boards.length]!,
        arch: i % boards.length === 3 ? 'amd64' : 'arm64',
        storageClass: sd ? 'sd' : 'nvme',
        fsyncP99Ms: sd ? 40 : 2.5,
        state: i % 23 === 5 ? 'dead' : i % 19 === 4 ? 'suspect' : i % 31 === 7 ? 'pending' : 'alive',
        roles: i < 3 ? ['etcd-voter', 'worker'] : i < 5 ? ['etcd-learner', 'worker'] : ['worker'],
        addresses: [`10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`],
        lastSeenMs: NOW - (i % 10) * 100,
        ...(i % 31 === 7 ? { code: `ABCD-${i}` } : {}),
      }),
    )
  }
  const ids = members.map((m) => m.id)
  return clusterView(
    {
      coordinator: ids[0]!,
      controlPlane: {
        voters: ids.slice(0, 3),
        learners: ids.slice(3, 5),
        leader: ids[1]!,
        quorum: true,
        source: 'etcd',
        reasons: members.map((m, i) => ({
          id: m.id,
          name: m.name,
          why:
            i < 3
              ? 'voter (sticky)'
              : m.storageClass === 'sd'
                ? 'refused: SD card fsync p99 40 ms > 10 ms'
                : `spare: ranked ${i + 1}th`,
        })),
      },
      events: Array.from({ length: 100 }, (_, i) => ({
        atMs: NOW - (100 - i) * 60_000,
        kind: i % 3 === 0 ? 'joined' : i % 3 === 1 ? 'marked-dead' : 'voter-replaced',
        id: ids[i % ids.length]!,
        name: members[i % members.length]!.name,
        message: `${members[i % members.length]!.name} event ${i}`,
      })),
    },
    members,
  )
}

/** One GET over a kept-alive connection, body read to the end; milliseconds. */
function timedGet(agent: http.Agent, base: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const req = http.get(
      `${base}${path}`,
      { agent, headers: { accept: 'text/html,application/json' } },
      (res) => {
        res.on('data', () => {})
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - t0)
            : reject(new Error(`${path}: ${res.statusCode}`)),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
  })
}

async function latency(base: string, path: string, requests: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    for (let i = 0; i < 20; i++) await timedGet(agent, base, path) // warm up (JIT, first render)
    const out: number[] = []
    for (let i = 0; i < requests; i++) out.push(await timedGet(agent, base, path))
    return out
  } finally {
    agent.destroy()
  }
}

interface Viewer {
  /** Resolves with the arrival time of the first `cluster` frame containing `marker`. */
  waitFor(marker: string): Promise<number>
  close(): void
}

/** An EventSource-like reader: its own connection, frames split on blank lines. */
function openViewer(base: string): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    let buf = ''
    let want: { marker: string; done: (t: number) => void } | null = null
    const req = http.get(
      `${base}/api/v1/events`,
      { agent: false, headers: { accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`))
        res.setEncoding('utf8')
        let first = true
        res.on('data', (chunk: string) => {
          const now = performance.now()
          buf += chunk
          for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
            const frame = buf.slice(0, end)
            buf = buf.slice(end + 2)
            if (!frame.includes('event: cluster')) continue
            if (first) {
              first = false
              resolve(viewer)
            }
            if (want && frame.includes(want.marker)) {
              want.done(now)
              want = null
            }
          }
        })
        res.on('error', () => {})
      },
    )
    req.on('error', reject)
    const viewer: Viewer = {
      waitFor: (marker) =>
        new Promise((done) => {
          want = { marker, done }
        }),
      close: () => req.destroy(),
    }
  })
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  let view = simulatedView()
  const app = buildApiServer({
    log: silentLogger(),
    counters: new Counters(),
    clusterView: () => view,
    meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
    ready: () => true,
  })
  const unregister = ctx.onCleanup(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const rows: Row[] = []
  const requests = ctx.quick ? 50 : 200
  try {
    const pageBytes = (await (await fetch(`${base}/`)).text()).length
    const jsonBytes = (await (await fetch(`${base}/api/v1/cluster`)).text()).length
    for (const [label, path, bytes, goal] of [
      ['page GET /', '/', pageBytes, true],
      ['JSON GET /api/v1/cluster', '/api/v1/cluster', jsonBytes, false],
    ] as const) {
      ctx.progress(`${label}: ${requests} requests, ${MEMBERS} members`)
      const ms = await latency(base, path, requests)
      const note = `${requests} sequential requests on one kept-alive connection, ${MEMBERS} members, ${Math.round(bytes / 1024)} KiB body`
      rows.push({
        metric: `${label} p50 (${MEMBERS} members)`,
        value: percentile(ms, 50),
        unit: 'ms',
        ...(goal ? { goal: { max: PAGE_GOAL_MS } } : {}),
        note,
      })
      rows.push({
        metric: `${label} p99 (${MEMBERS} members)`,
        value: percentile(ms, 99),
        unit: 'ms',
        ...(goal ? { goal: { max: PAGE_GOAL_MS } } : {}),
      })
    }

    ctx.progress(`SSE: opening ${SSE_CLIENTS} viewers`)
    const viewers = await Promise.all(Array.from({ length: SSE_CLIENTS }, () => openViewer(base)))
    try {
      const rounds = ctx.quick ? 3 : 10
      const toAll: (number | null)[] = []
      const spread: (number | null)[] = []
      for (let r = 0; r < rounds; r++) {
        const marker = `"name":"bench-round-${r}"`
        // A random phase against the hub's poll, as a real change has.
        await new Promise((res) => setTimeout(res, Math.random() * DEFAULT_SSE_LIMITS.pollMs))
        const waits = viewers.map((v) => v.waitFor(marker))
        const t0 = performance.now()
        view = { ...view, cluster: { ...view.cluster, name: `bench-round-${r}` } }
        let timer: NodeJS.Timeout | undefined
        const got = await Promise.race([
          Promise.all(waits),
          new Promise<null>((res) => {
            timer = setTimeout(() => res(null), ROUND_TIMEOUT_MS)
          }),
        ]).finally(() => clearTimeout(timer))
        toAll.push(got ? Math.max(...got) - t0 : null)
        spread.push(got ? Math.max(...got) - Math.min(...got) : null)
      }
      const pollNote = `${rounds} changes; includes waiting for the hub's ${DEFAULT_SSE_LIMITS.pollMs} ms poll (changes at a random phase, so 0-${DEFAULT_SSE_LIMITS.pollMs} ms of it is waiting)`
      rows.push({
        metric: `SSE change -> all ${SSE_CLIENTS} viewers p50`,
        value: median(toAll),
        unit: 'ms',
        note: pollNote,
      })
      rows.push({ metric: `SSE change -> all ${SSE_CLIENTS} viewers max`, value: max(toAll), unit: 'ms' })
      rows.push({
        metric: `SSE fan-out first -> last viewer p50`,
        value: median(spread),
        unit: 'ms',
        note: `the push itself: first to last of ${SSE_CLIENTS} viewers receiving the ${Math.round(jsonBytes / 1024)} KiB view`,
      })
      rows.push({ metric: 'SSE fan-out first -> last viewer max', value: max(spread), unit: 'ms' })
    } finally {
      for (const v of viewers) v.close()
    }
  } finally {
    await app.close()
    unregister()
  }
  return rows
}
