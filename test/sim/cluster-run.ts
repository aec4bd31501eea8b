import { randomBelow, seededRandom } from '../../agent/core/random.js'
import { SimCluster, simBoard } from './cluster.js'
import { applyCommonFault, describeFault, type Fault, randomSchedule } from './faults.js'

export interface ClusterRunResult {
  seed: number
  nodes: number
  ok: boolean
  violations: string[]
  schedule: Fault[]
  events: number
}

export interface ClusterRunOptions {
  nodesMin?: number
  nodesMax?: number
  faultsMs?: number
  faultsMax?: number
  settleMs?: number
}

/**
 * One seeded run of a whole cluster (membership, coordinator, placement, etcd retire
 * checks, the cluster lock) under a random fault schedule, with the invariants checked
 * on everything that happened: at most one coordinator acts per lease (every etcd
 * membership change was made by the election's holder at that moment); homecloud never
 * removes a member and so loses quorum; no node wipes data etcd still lists; never two
 * lock holders at once; every live view converges after the faults stop; and, when a
 * quorum survived, the coordinator replaces every dead voter; a node without a state
 * disk never becomes a member; and once three Pis are up, no laptop keeps a seat (the
 * x86 fallback gives its seat back).
 */
export async function runClusterSchedule(
  seed: number,
  opts: ClusterRunOptions = {},
): Promise<ClusterRunResult> {
  const random = seededRandom(seed ^ 0x5eed)
  const lo = opts.nodesMin ?? 4
  const n = lo + randomBelow(random, (opts.nodesMax ?? 8) - lo + 1)
  const c = new SimCluster({ nodes: n, seed })
  const r: ClusterRunResult = { seed, nodes: n, ok: false, violations: [], schedule: [], events: 0 }
  c.startAll()
  await c.run(20_000)
  const faultsMs = opts.faultsMs ?? 40_000
  r.schedule = randomSchedule(random, n, {
    faultsMs,
    faultsMax: opts.faultsMax ?? 8,
    downMax: Math.floor((n - 1) / 2),
  })
  const start = c.now
  for (const f of r.schedule) c.sched.at(start + f.atMs, () => apply(c, f))
  await c.run(faultsMs)
  c.net.partition(null)
  c.net.opts.dropRate = 0
  c.net.opts.duplicateRate = 0
  if ((await c.runUntil(() => c.viewsConverged(), opts.settleMs ?? 120_000)) === null)
    r.violations.push('views did not converge after the faults stopped')
  // Placement gets its grace and a few reconcile rounds to replace what died.
  if ((await c.runUntil(() => healed(c), 60_000)) === null)
    r.violations.push(`a quorum survived but dead voters stayed: ${members(c)}`)
  else if ((await c.runUntil(() => fallbackReturned(c), 60_000)) === null)
    r.violations.push(`three Pis are up but a laptop kept its seat: ${members(c)}`)
  r.violations.push(
    ...safety(
      c,
      r.schedule.map((f) => start + f.atMs),
    ),
  )
  r.ok = r.violations.length === 0
  r.events = c.sched.ran
  return r
}

/** With a quorum, every voter is up and no learner is stuck (nothing to heal otherwise). */
function healed(c: SimCluster): boolean {
  if (c.etcd.quorum() === null) return true
  return c.etcd.state.voters().every((m) => c.byId.get(m.nodeId)?.node.isUp())
}

/** With a quorum and at least three Pis up, every member is a Pi (laptops only fill in). */
function fallbackReturned(c: SimCluster): boolean {
  if (c.etcd.quorum() === null) return true
  const pisUp = c.agents.filter((a) => simBoard(a.index) === 'pi' && a.node.isUp()).length
  if (pisUp < 3) return true
  return [...c.etcd.state.members.values()].every((m) => simBoard(c.byId.get(m.nodeId)?.index ?? 0) === 'pi')
}

/**
 * A removal decided a few milliseconds before a fault struck cannot have known of it: such
 * races are etcd's to refuse (its strict reconfiguration check); only the rest count.
 */
const RACE_MS = 100

function safety(c: SimCluster, faultTimes: number[]): string[] {
  const out: string[] = []
  const raced = (t: number) => faultTimes.some((f) => f <= t && t - f < RACE_MS)
  const name = (id: string | null) => (id === null ? 'nobody' : `n${c.byId.get(id)?.index}`)
  for (const ch of c.etcd.changes) {
    if (ch.by !== ch.leaderNode)
      out.push(
        `${ch.kind} of ${name(ch.member)} at ${ch.atMs} ms by ${name(ch.by)} while ${name(ch.leaderNode)} coordinated`,
      )
    if (ch.kind === 'remove' && ch.quorumBefore && !ch.quorumAfter && !raced(ch.atMs))
      out.push(`removing ${name(ch.member)} at ${ch.atMs} ms lost etcd's quorum`)
  }
  for (const ch of c.etcd.changes)
    if (ch.kind === 'add' && simBoard(c.byId.get(ch.member)?.index ?? 0) === 'pi-ram')
      out.push(`${name(ch.member)} (no state disk) was added to etcd at ${ch.atMs} ms`)
  for (const w of c.wipes)
    if (w.stillListed)
      out.push(`${name(w.nodeId)} wiped member ${w.memberId} at ${w.atMs} ms while etcd still listed it`)
  for (const s of c.drains.steps)
    if (s.overlapping.length > 0)
      out.push(
        `${name(s.holder)} drained at ${s.atMs} ms while ${s.overlapping.join(', ')} also held the lock`,
      )
  return out
}

function members(c: SimCluster): string {
  return [...c.etcd.state.members.values()]
    .map(
      (m) =>
        `n${c.byId.get(m.nodeId)?.index}${m.isLearner ? '(learner)' : ''}${c.byId.get(m.nodeId)?.node.isUp() ? '' : ' down'}`,
    )
    .join(', ')
}

function apply(c: SimCluster, f: Fault): void {
  const node = 'node' in f ? c.agents[f.node]?.node : undefined
  applyCommonFault(f, node, c.net, (i) => c.agents[i]!.id)
}

export function describeClusterRun(r: ClusterRunResult): string {
  return [
    `seed ${r.seed}: ${r.nodes} nodes, ${r.ok ? 'ok' : 'FAILED'}`,
    ...r.schedule.map((f) => `  ${describeFault(f)}`),
    ...r.violations.map((v) => `  ✗ ${v}`),
  ].join('\n')
}
