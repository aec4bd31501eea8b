import { randomBelow, seededRandom } from '../../agent/core/random.js'
import { applyCommonFault, describeFault, type Fault, randomSchedule } from './faults.js'
import { SwimCluster } from './swim-cluster.js'

export interface RunResult {
  seed: number
  nodes: number
  ok: boolean
  failure?: string
  schedule: Fault[]
  /** Simulated time the views took to agree after the faults stopped. */
  convergedAfterMs: number | null
  events: number
}

export interface RunOptions {
  nodesMin?: number
  nodesMax?: number
  faultsMs?: number
  faultsMax?: number
  /** How long views may take to agree once faults stop. */
  settleMs?: number
}

/**
 * One seeded run of cluster membership under a random fault schedule: form, suffer the
 * faults, heal, and check that every live node's view converges (every live node alive,
 * every crashed node dead). The same seed gives the same run, event for event.
 */
export function runMembershipSchedule(seed: number, opts: RunOptions = {}): RunResult {
  const random = seededRandom(seed)
  const lo = opts.nodesMin ?? 4
  const n = lo + randomBelow(random, (opts.nodesMax ?? 9) - lo + 1)
  const c = new SwimCluster({ nodes: n, seed, startSpreadMs: 1000 })
  const result: RunResult = { seed, nodes: n, ok: false, schedule: [], convergedAfterMs: null, events: 0 }
  c.startAll()
  if (c.runUntil(() => c.converged() && c.up().length === n, 30_000, 250) === null) {
    result.failure = 'the cluster did not form'
    return finish(c, result)
  }
  const faultsMs = opts.faultsMs ?? 30_000
  result.schedule = randomSchedule(random, n, {
    faultsMs,
    faultsMax: opts.faultsMax ?? 8,
    downMax: Math.floor((n - 1) / 2),
  })
  const start = c.now
  for (const f of result.schedule) c.sched.at(start + f.atMs, () => apply(c, f))
  c.run(faultsMs)
  c.net.partition(null)
  c.net.opts.dropRate = 0
  c.net.opts.duplicateRate = 0
  result.convergedAfterMs = c.runUntil(() => c.converged(), opts.settleMs ?? 120_000, 250)
  if (result.convergedAfterMs === null) result.failure = `views did not converge:\n${views(c)}`
  else result.ok = true
  return finish(c, result)
}

function finish(c: SwimCluster, r: RunResult): RunResult {
  r.events = c.sched.ran
  return r
}

function apply(c: SwimCluster, f: Fault): void {
  const node = 'node' in f ? c.nodes[f.node] : undefined
  applyCommonFault(f, node, c.net, (i) => c.nodes[i]!.id)
}

/** Each live node's view, for a failure report. */
function views(c: SwimCluster): string {
  const name = new Map(c.nodes.map((n, i) => [n.id, `n${i}`]))
  return c.nodes
    .map((o, i) => {
      if (!o.isUp()) return `  n${i}: down`
      const v = [...c.view(o)].map(([id, s]) => `${name.get(id)}=${s}`).join(' ')
      return `  n${i} (links ${o
        .links()
        .map((l) => name.get(l))
        .join(',')}): ${v}`
    })
    .join('\n')
}

export function describeRun(r: RunResult): string {
  return [
    `seed ${r.seed}: ${r.nodes} nodes, ${r.ok ? 'ok' : 'FAILED'}`,
    ...r.schedule.map((f) => `  ${describeFault(f)}`),
    r.failure ?? '',
  ].join('\n')
}
