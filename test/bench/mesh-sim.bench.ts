// Membership at sizes this machine cannot run as processes, in the seeded simulator:
// the production SWIM machine and link book (agent/mesh/liveness.ts) for every node on
// an in-memory network with 1–5 ms latency. Simulated time, not wall time: these are the
// protocol's numbers (convergence, failure detection, bytes, links), not this machine's.
import { SwimCluster } from '../sim/swim-cluster.js'
import { max, mean } from './stats.js'
import type { BenchContext, Row } from './types.js'

export const name = 'mesh-sim'

const CONVERGE_GOAL_MS = 10_000
const DEAD_GOAL_MS = 11_000
const BYTES_GOAL = 40 * 1024
const LINKS_GOAL = 16
/** The nodes start over this long, as a lab or a power-on does. */
const START_SPREAD_MS = 2000
const STEADY_MS = 20_000
const LOSS_MS = 60_000
const LOSS_RATE = 0.1

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  for (const n of ctx.quick ? [200] : [200, 1000]) {
    ctx.progress(`${n} simulated nodes: forming`)
    const t0 = performance.now()
    rows.push(...measure(n, ctx))
    ctx.progress(`${n} simulated nodes done in ${Math.round(performance.now() - t0)} ms of wall time`)
  }
  return rows
}

function measure(n: number, ctx: BenchContext): Row[] {
  const c = new SwimCluster({ nodes: n, seed: n, startSpreadMs: START_SPREAD_MS })
  c.startAll()
  c.run(START_SPREAD_MS)
  const converged = c.runUntil(() => c.converged(), 120_000, 100)
  const rows: Row[] = [
    {
      metric: `sim ${n} nodes: first start → every view complete`,
      value: converged === null ? null : converged + START_SPREAD_MS,
      unit: 'ms',
      goal: n === 200 ? { max: CONVERGE_GOAL_MS } : undefined,
      note: `nodes started over ${START_SPREAD_MS / 1000} s, 3 bootstrap peers`,
    },
  ]
  ctx.progress(`${n} nodes converged; steady state for ${STEADY_MS / 1000} s`)
  const sent0 = new Map(c.net.sentBytes)
  const msgs0 = new Map(c.net.sentMessages)
  c.run(STEADY_MS)
  const perNode = (m: Map<string, number>, m0: Map<string, number>) =>
    c.nodes.map((x) => ((m.get(x.id) ?? 0) - (m0.get(x.id) ?? 0)) / (STEADY_MS / 1000))
  const bytes = perNode(c.net.sentBytes, sent0)
  const degrees = c.nodes.map((x) => c.net.degree(x.id))
  rows.push(
    {
      metric: `sim ${n} nodes: bytes sent per node, steady`,
      value: mean(bytes),
      unit: 'B/s',
      goal: { max: BYTES_GOAL },
      note: `max ${Math.round(max(bytes) ?? 0)} B/s; ${Math.round(mean(perNode(c.net.sentMessages, msgs0)) ?? 0)} messages/s per node (estimated sizes: records 620 B)`,
    },
    {
      metric: `sim ${n} nodes: links per node, max`,
      value: max(degrees),
      unit: 'links',
      goal: { max: LINKS_GOAL },
      note: `mean ${mean(degrees)?.toFixed(1)}`,
    },
  )
  rows.push(...deathRows(c, n))
  rows.push(lossRow(c, n, ctx))
  return rows
}

function deathRows(c: SwimCluster, n: number): Row[] {
  c.resetDeaths()
  const victim = c.nodes[n - 1]!
  const t0 = c.now
  victim.crash()
  const all = c.runUntil(() => c.deadEverywhere(victim.id), 60_000, 50)
  const seen = [...(c.deadSeen.get(victim.id)?.values() ?? [])].map((t) => t - t0)
  return [
    {
      metric: `sim ${n} nodes: crash → dead in every view`,
      value: all,
      unit: 'ms',
      goal: n === 200 ? { max: DEAD_GOAL_MS } : undefined,
      note: `first noticed after ${Math.round(Math.min(...seen))} ms; false deaths meanwhile: ${c.falseDeaths.length}`,
    },
  ]
}

/** Deaths declared about nodes that were up and reachable, with a tenth of all messages lost. */
function lossRow(c: SwimCluster, n: number, ctx: BenchContext): Row {
  ctx.progress(`${n} nodes: ${LOSS_MS / 1000} s with ${LOSS_RATE * 100} % message loss`)
  c.resetDeaths()
  c.net.opts.dropRate = LOSS_RATE
  c.run(LOSS_MS)
  c.net.opts.dropRate = 0
  const suspects = c
    .up()
    .reduce((k, o) => k + [...c.view(o).values()].filter((s) => s === 'suspect').length, 0)
  return {
    metric: `sim ${n} nodes: false deaths under ${LOSS_RATE * 100} % loss`,
    value: c.falseDeaths.length,
    unit: `in ${LOSS_MS / 1000} s`,
    goal: { max: 0 },
    note: `${suspects} suspicions standing at the end; ${new Set(c.falseDeaths.map((d) => d.subject)).size} distinct nodes declared dead`,
  }
}
