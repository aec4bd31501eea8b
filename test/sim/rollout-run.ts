import { randomBelow, seededRandom } from '../../agent/core/random.js'
import { type CaMaterial, createCa } from '../../agent/pki/ca.js'
import type { TargetRelease } from '../../control/rollout/record.js'
import { SimCluster } from './cluster.js'
import { applyCommonFault, describeFault, type Fault, randomSchedule } from './faults.js'
import { RolloutPart, SIM_CLUSTER_ID } from './rollout-part.js'

// One seeded rollout under faults: a whole simulated cluster (rollout-part.ts) on release
// 1 is told to move to release 2 (good) or 3 (bad: its agent dies at boot) while nodes
// crash and come back (the coordinator among them, mid-rollout), pause, lose packets, are
// partitioned and have their clocks jump, and drains take the cluster lock now and then.
// Now and then a worker leaves for good mid-rollout (revoked, powered off): the one in
// progress if it is a worker.
// Invariants, over everything that happened:
//  - never two disruptions at once: every reboot order was sent under a valid lock naming
//    that node with no other holder valid (drains and coordinators share the lock), and no
//    drain step fell while another node was down for a rollout reboot — unless the rollout
//    had let that node go for staying away its lease (`nodeGoneMs`, the issue's rule);
//  - a voter is rebooted only while every other voter is up with etcd running;
//  - a bad release is marked bad and the rollout halted, and once the canary failed no
//    other node gets an order;
//  - once the faults stop, a good release ends with every live node committed on it, and
//    a node that left named in the record (skipped), never waited for.

const sha = (n: number) => n.toString(16).padStart(64, '0')
const release = (v: number, arch: 'amd64' | 'arm64'): TargetRelease => ({
  id: sha(v * 16 + (arch === 'amd64' ? 1 : 2)),
  version: `${v}.0.0`,
})
const releases = (v: number) => ({ amd64: release(v, 'amd64'), arm64: release(v, 'arm64') })

let caOnce: CaMaterial | null = null
/** One CA per process (a small RSA key: signing is most of a run's time, and what it signs does not change a run). */
function simCa(): CaMaterial {
  caOnce ??= createCa({
    clusterId: SIM_CLUSTER_ID,
    clusterName: 'sim',
    keyBits: 1024,
    clock: { nowMs: () => 0 },
  })
  return caOnce
}

export type RolloutFault =
  | Fault
  | { atMs: number; kind: 'crash-coordinator'; forMs: number }
  /** A worker leaves for good: revoked and powered off (the one in progress if a worker). */
  | { atMs: number; kind: 'leave' }

export interface RolloutRunResult {
  seed: number
  nodes: number
  bad: boolean
  ok: boolean
  violations: string[]
  schedule: RolloutFault[]
  orders: number
  reboots: number
  /** Simulated time from the start to the end (ms). */
  tookMs: number
  events: number
  /** etcd had no quorum at the end: the end state proves nothing (safety is still checked). */
  quorumLost: boolean
  /** Nodes whose power cut during their upgrade halted a good release (marked bad, as a failed gate). */
  haltedByPowerCut: string[]
  /** Drains asked for while the rollout held a node in progress, refused by its hold. */
  drainsRefused: number
  /** Nodes the rollout let go after they stayed away its lease (then drains may run). */
  deferred: string[]
  /** The node that left for good (revoked), if one did, and its outcome in the record. */
  left: string | null
  trace: string[]
}

export interface RolloutRunOptions {
  nodesMin?: number
  nodesMax?: number
  faultsMs?: number
  settleMs?: number
}

export async function runRolloutSchedule(
  seed: number,
  opts: RolloutRunOptions = {},
): Promise<RolloutRunResult> {
  const random = seededRandom(seed ^ 0x7011)
  const lo = opts.nodesMin ?? 4
  const n = lo + randomBelow(random, (opts.nodesMax ?? 8) - lo + 1)
  const bad = random.next() < 0.3
  const c = new SimCluster({ nodes: n, seed })
  const part = new RolloutPart(c, simCa(), releases(1))
  const r: RolloutRunResult = {
    ...{ seed, nodes: n, bad, ok: false, violations: [], schedule: [], orders: 0, reboots: 0 },
    ...{
      tookMs: 0,
      events: 0,
      quorumLost: false,
      haltedByPowerCut: [],
      ...{ drainsRefused: 0, deferred: [], left: null },
      trace: part.trace,
    },
  }
  for (const [i, a] of c.agents.entries()) c.sched.at((1000 * i) / n, () => part.machine(a).powerOn())
  await c.run(25_000)
  const faultsMs = opts.faultsMs ?? 60_000
  r.schedule = randomSchedule(random, n, { faultsMs, faultsMax: 8, downMax: Math.floor((n - 1) / 2) })
  if (random.next() < 0.6)
    r.schedule.push({
      atMs: 5000 + randomBelow(random, faultsMs - 10_000),
      kind: 'crash-coordinator',
      forMs: 3000 + randomBelow(random, 25_000),
    })
  if (random.next() < 0.25)
    r.schedule.push({ atMs: 5000 + randomBelow(random, faultsMs - 10_000), kind: 'leave' })
  r.schedule.sort((a, b) => a.atMs - b.atMs)
  const start = c.now
  part.start(bad ? releases(3) : releases(2), bad)
  for (const f of r.schedule) c.sched.at(start + f.atMs, () => apply(c, part, f))
  await c.run(faultsMs)
  c.net.partition(null)
  c.net.opts.dropRate = 0
  c.net.opts.duplicateRate = 0
  // Without an etcd quorum nothing can move (the cluster simulator checks placement keeps one).
  const done = () =>
    c.etcd.quorum() === null ||
    (bad ? halted(part) : allOnTarget(c, part) && [...part.revoked].every((id) => named(part, id)))
  const settled = await c.runUntil(done, opts.settleMs ?? 400_000, 1000)
  r.quorumLost = c.etcd.quorum() === null
  if (settled === null)
    r.violations.push(
      bad
        ? `the bad release was not marked bad with the rollout halted: ${state(part)}`
        : `not every live node ended on the target: ${nodesState(c, part)}; ${state(part)}; etcd ${etcdState(c)}`,
    )
  const haltedByFault = new Set<string>()
  const unsafe = safety(c, part, haltedByFault)
  // The end state of a rollout halted by a power cut during a gate is not a violation.
  if (haltedByFault.size > 0) r.violations = r.violations.filter((v) => !v.startsWith('not every live node'))
  r.violations.push(...unsafe)
  r.haltedByPowerCut = [...haltedByFault]
  r.drainsRefused = c.drains.asks.filter((a) => a.outcome.includes('a rollout is upgrading')).length
  r.deferred = part.deferred.map((d) => `n${c.byId.get(d.node)?.index}@${(d.atMs / 1000).toFixed(2)}s`)
  const left = [...part.revoked][0]
  const o = left ? part.record()?.nodes[left] : undefined
  r.left = left ? `n${c.byId.get(left)?.index}${o ? ` ${o.state}: ${o.detail}` : ''}` : null
  const who = left ? `n${c.byId.get(left)?.index}` : ''
  if (left && !r.quorumLost && settled !== null && !bad) {
    if (o && o.state !== 'skipped' && o.state !== 'done')
      r.violations.push(`${who} left: recorded ${o.state}`)
    if (!o) r.violations.push(`${who} left, but the rollout never named it`)
  }
  r.orders = part.orders.length
  r.reboots = part.outages.length
  r.tookMs = c.now - start
  r.ok = r.violations.length === 0
  r.events = c.sched.ran
  return r
}

function apply(c: SimCluster, part: RolloutPart, f: RolloutFault): void {
  part.note(
    f.kind === 'crash-coordinator' || f.kind === 'leave' ? `fault: ${f.kind}` : `fault: ${describeFault(f)}`,
  )
  if (f.kind === 'leave') {
    leave(c, part)
    return
  }
  if (f.kind === 'crash-coordinator') {
    const id = c.etcd.leaderNode()
    const a = id ? c.byId.get(id) : undefined
    if (!a) return
    part.cut(a)
    part.machine(a).powerOff()
    c.sched.after(f.forMs, () => part.machine(a).powerOn())
    return
  }
  const a = 'node' in f ? c.agents[f.node] : undefined
  if (a && part.revoked.has(a.id)) return // gone for good
  if (a && f.kind === 'crash') {
    part.cut(a)
    part.machine(a).powerOff()
  } else if (a && f.kind === 'restart') part.machine(a).powerOn()
  else applyCommonFault(f, a?.node, c.net, (i) => c.agents[i]!.id)
}

/** A worker leaves for good: the node in progress if it is one, else the first worker by index. */
function leave(c: SimCluster, part: RolloutPart): void {
  const voters = new Set(c.etcd.state.voters().map((v) => v.nodeId))
  const cur = part.record()?.current?.node
  const worker = (id: string | undefined) => id !== undefined && id !== c.agents[0]?.id && !voters.has(id)
  const id = worker(cur) ? cur : c.agents.find((a) => worker(a.id))?.id
  const a = id ? c.byId.get(id) : undefined
  if (!a || part.revoked.size > 0) return
  part.note(`n${a.index} leaves for good (revoked)`)
  part.revoked.add(a.id)
  part.cut(a)
  part.machine(a).powerOff()
}

/** The record gave the node an outcome (it is not waited for). */
function named(part: RolloutPart, id: string): boolean {
  return part.record()?.nodes[id] !== undefined
}

/** Every machine whose agent runs booted its architecture's target and committed it. */
function allOnTarget(c: SimCluster, part: RolloutPart): boolean {
  const r = part.record()
  if (!r?.target) return false
  return c.agents.every((a) => {
    if (!a.node.isUp()) return true
    const rep = part.machine(a).report()
    return rep.committed && rep.bootedRelease?.releaseId === r.target?.releases[rep.arch]?.id
  })
}

/** The bad release is marked bad, the rollout halted and its node done (reverted, lock freed). */
function halted(part: RolloutPart): boolean {
  const r = part.record()
  if (!r?.target) return false
  const ids = Object.values(r.target.releases).map((t) => t?.id)
  return r.phase === 'halted' && r.current === null && r.bad.some((b) => ids.includes(b.id))
}

/**
 * The invariants over what happened. A drain while a node is down for a rollout reboot is
 * allowed only once the rollout let that node go for staying away its lease (the rollout's
 * hold on the cluster lock ends there: "upgraded when it comes back").
 */
function safety(c: SimCluster, part: RolloutPart, haltedByFault: Set<string>): string[] {
  const out: string[] = []
  const name = (id: string) => `n${c.byId.get(id)?.index}`
  const at = (ms: number) => `${(ms / 1000).toFixed(2)}s`
  for (const o of part.orders) {
    const what = `${o.action} order to ${name(o.node)} by ${name(o.by)} at ${at(o.atMs)}`
    const disruptive = o.action === 'reboot' || o.action === 'fallback'
    if (disruptive && !o.locked) out.push(`${what} without a valid lock naming that node`)
    if (o.overlapping.length > 0) out.push(`${what} while ${o.overlapping.join(', ')} also held the lock`)
    if (o.action === 'reboot' && o.votersDown.length > 0)
      out.push(`${what}: a voter taken down while voter(s) ${o.votersDown.join(', ')} were down`)
    if (o.afterFailureOn !== null) out.push(`${what} after the canary ${o.afterFailureOn} failed`)
  }
  for (const s of c.drains.steps) {
    if (s.overlapping.length > 0)
      out.push(
        `${name(s.holder)} drained at ${at(s.atMs)} while ${s.overlapping.join(', ')} also held the lock`,
      )
    const down = part.outages.find(
      (o) =>
        o.node !== s.node &&
        o.fromMs <= s.atMs &&
        (o.toMs ?? Infinity) > s.atMs &&
        !part.deferred.some((d) => d.node === o.node && d.atMs >= o.fromMs && d.atMs <= s.atMs),
    )
    if (down)
      out.push(
        `${name(s.holder)} drained ${name(s.node)} at ${at(s.atMs)} while ${name(down.node)} was down for a rollout reboot (since ${at(down.fromMs)})`,
      )
  }
  const r = part.record()
  const failed = r?.bad[0]
  if (failed && part.bad.size === 0) {
    // A machine that loses power after its reboot into the target (during its gate) looks
    // like a release that does not come up: the rollout halts rather than guess (the admin
    // retries with --retry-bad). A power cut before that reboot excuses nothing.
    const id = c.agents.find((a) => `n${a.index}` === failed.node)?.id
    const first = part.orders.find((o) => o.node === id && o.action === 'reboot')
    if (first && part.powerCuts.some((p) => p.node === id && p.atMs >= first.atMs))
      haltedByFault.add(failed.node)
    else out.push(`the good release was marked bad on ${failed.node}: ${failed.reason}`)
  }
  if (part.bad.size === 0 && part.setCurrent.some((s) => s.version !== r?.target?.version))
    out.push('another release was made current')
  if (part.bad.size > 0 && part.setCurrent.length > 0) out.push('the bad release was made current')
  return out
}

function state(part: RolloutPart): string {
  const r = part.record()
  if (!r) return 'no record'
  const outcomes = Object.values(r.nodes).filter((o) => o.state !== 'done')
  const odd = outcomes.map((o) => `${o.name} ${o.state}: ${o.detail}`).join('; ')
  return `${odd ? `${odd}; ` : ''}phase ${r.phase}, current ${r.current ? `${r.current.name}:${r.current.step}` : 'none'}, waiting ${r.waiting ?? '-'}`
}

function etcdState(c: SimCluster): string {
  const voters = c.etcd.state
    .voters()
    .map((m) => `n${c.byId.get(m.nodeId)?.index}${c.byId.get(m.nodeId)?.node.isUp() ? '' : ' down'}`)
  const leader = c.etcd.leaderNode()
  return `voters ${voters.join(', ')}, quorum ${c.etcd.quorum() ? 'yes' : 'no'}, coordinator ${leader ? `n${c.byId.get(leader)?.index}` : 'none'}`
}

function nodesState(c: SimCluster, part: RolloutPart): string {
  return c.agents
    .map((a) => {
      const rep = part.machine(a).report()
      const up = a.node.isUp() ? '' : ' down'
      return `n${a.index}${up} ${rep.bootedRelease?.version ?? '-'}${rep.committed ? '' : '(uncommitted)'}`
    })
    .join(', ')
}

export function describeRolloutRun(r: RolloutRunResult, trace = false): string {
  return [
    ...(trace ? r.trace.map((t) => `  · ${t}`) : []),
    `seed ${r.seed}: ${r.nodes} nodes, ${r.bad ? 'bad' : 'good'} release, ${r.orders} orders, ${r.reboots} reboots, ${Math.round(r.tookMs / 1000)} s${r.quorumLost ? ', etcd quorum lost' : ''}, ${r.ok ? 'ok' : 'FAILED'}`,
    ...r.schedule.map((f) =>
      f.kind === 'crash-coordinator'
        ? `  ${(f.atMs / 1000).toFixed(2)}s crash the coordinator for ${f.forMs}ms`
        : f.kind === 'leave'
          ? `  ${(f.atMs / 1000).toFixed(2)}s a worker leaves for good`
          : `  ${describeFault(f)}`,
    ),
    ...r.violations.map((v) => `  ✗ ${v}`),
    ...r.haltedByPowerCut.map(
      (v) => `  ! halted: ${v} lost power during its upgrade and was taken for a failed gate`,
    ),
    ...(r.left ? [`  left for good (revoked): ${r.left}`] : []),
    ...r.deferred.map((v) => `  ! deferred ${v}: it stayed away the rollout's lease`),
  ].join('\n')
}
