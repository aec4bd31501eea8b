// Whole-cluster numbers with the DEFAULT mesh settings (SWIM: a probe every 400 ms, at
// most 16 links per agent): join latency, failure detection at 5, 20 and 50 agents, idle
// memory, CPU, bytes and links per agent, and convergence of a 50-agent lab.
import { cpus } from 'node:os'
import { join } from 'node:path'
import { loopbackAddress, nodeName } from '../../lab/boards.js'
import { type LabNode, readLabFile } from '../../lab/lab-file.js'
import { labAdd, labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import {
  aliveCount,
  type BenchLab,
  benchLab,
  cpuMs,
  firstTimes,
  lastOf,
  logTimes,
  machineTicks,
  memStatus,
  pssKB,
  sleep,
  startedAtMs,
  stateOf,
  views,
} from './lab.js'
import { max, mean, median, runsNote } from './stats.js'
import type { BenchContext, Row } from './types.js'

export const name = 'mesh'

const JOIN_GOAL_MS = 2000
const DEAD_GOAL_MS = 3000
const DEAD_GOAL_BIG_MS = 11_000
const RSS_GOAL_MB = 90
const BYTES_GOAL = 40 * 1024
const LINKS_GOAL = 16
const CONVERGE_GOAL_MS = 10_000
const POLL_MS = 50
const SMALL_LAB_TIMEOUT_MS = 60_000
const BIG_LAB_NODES = 50
const BIG_LAB_TIMEOUT_MS = 300_000
const LOAD_SAMPLE_MS = 10_000

/**
 * Which lab sizes to run: HOMECLOUD_BENCH_MESH_SIZES=5,20,50 (the default, all three), so
 * each can have a turn of its own on a shared machine.
 */
export function meshBenchSizes(env: string | undefined): Set<number> {
  const all = [5, 20, BIG_LAB_NODES]
  if (!env) return new Set(all)
  const asked = env.split(',').map((s) => Number(s.trim()))
  const bad = asked.filter((n) => !all.includes(n))
  if (bad.length > 0)
    throw new Error(`HOMECLOUD_BENCH_MESH_SIZES: ${bad.join(', ')} (sizes are ${all.join(', ')})`)
  return new Set(asked)
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const sizes = meshBenchSizes(process.env.HOMECLOUD_BENCH_MESH_SIZES)
  const reps = ctx.quick ? 1 : 3
  const idleMs = ctx.quick ? 3000 : 10_000
  const joinRuns: JoinRun[] = []
  const later: Row[] = []

  // Each join gets a fresh 4-node lab, so every run is "the 5th node arrives"; the last
  // lab stays up for the failure-detection and 5-node memory measurements. A lab that
  // does not converge is a finding (noted), and the run is retried with a fresh one.
  const trouble: string[] = []
  for (let attempt = 1; sizes.has(5) && joinRuns.length < reps && attempt <= reps + 2; attempt++) {
    const rep = joinRuns.length + 1
    let lab: BenchLab | null = null
    try {
      ctx.progress(`join ${rep}/${reps}: starting a 4-node lab`)
      lab = await benchLab(ctx, `join${attempt}`, { nodes: 4, timeoutMs: SMALL_LAB_TIMEOUT_MS })
      ctx.progress(`join ${rep}/${reps}: 4 nodes converged in ${lab.upMs} ms; adding a 5th`)
      const r = await measureJoin(lab)
      joinRuns.push(r)
      if (r.trouble) trouble.push(`run ${rep}: ${r.trouble}`)
      ctx.progress(`join ${rep}/${reps}: seen alive by all peers ${fmt(r.fromLabAdd)} ms after labAdd`)
      if (rep === reps) {
        await section(ctx, 'unplug', async () => later.push(...(await measureUnplug(ctx, lab!, reps))))
        await section(ctx, 'idle 5 nodes', async () => later.push(...(await measureIdle(ctx, lab!, idleMs))))
      }
    } catch (err) {
      if (!isTimeout(err)) ctx.fail(`join run ${rep}`, err)
      else {
        trouble.push(`attempt ${attempt}: a 4-node lab did not converge (${short(err)})`)
        ctx.progress(`join ${rep}/${reps}: the 4-node lab did not converge; retrying with a fresh one`)
      }
    } finally {
      await lab?.close()
    }
  }

  await section(ctx, 'idle 20 nodes', async () => {
    if (!sizes.has(20)) return
    ctx.progress('starting a 20-node lab')
    let lab: BenchLab
    try {
      lab = await benchLab(ctx, 'idle20', { nodes: 20 })
    } catch (err) {
      if (!isTimeout(err)) throw err
      later.push({ metric: 'converge: 20 agents, labUp total', value: null, unit: 'ms', note: short(err) })
      return
    }
    try {
      ctx.progress(`20 nodes converged in ${lab.upMs} ms`)
      later.push({
        metric: 'converge: 20 agents, labUp total',
        value: lab.upMs,
        unit: 'ms',
        note: 'sequential spawns + wait until every node sees 20 alive (lab polls every 250 ms)',
      })
      later.push(...(await measureIdle(ctx, lab, idleMs)))
      await section(ctx, 'unplug 20 nodes', async () => later.push(...(await measureUnplug(ctx, lab, reps))))
    } finally {
      await lab.close()
    }
  })

  if (ctx.quick) ctx.progress(`--quick: skipping the ${BIG_LAB_NODES}-node lab`)
  else if (sizes.has(BIG_LAB_NODES))
    await section(ctx, `converge ${BIG_LAB_NODES}`, async () =>
      later.push(...(await measureBigLab(ctx, idleMs))),
    )

  return [...(sizes.has(5) ? joinRows(joinRuns, trouble) : []), ...later]
}

async function section(ctx: BenchContext, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    ctx.fail(what, err)
  }
}

const isTimeout = (err: unknown) => /timed out/.test((err as Error)?.message ?? '')
const short = (err: unknown, chars = 240) => {
  const m = (err as Error)?.message ?? String(err)
  return m.length > chars ? `${m.slice(0, chars)}…` : m
}
const fmt = (v: number | null) => (v === null ? 'n/a' : String(Math.round(v)))
const diff = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined ? null : a - b
const targets = (nodes: LabNode[]) => nodes.map((n) => ({ name: n.name, address: n.address }))

// ---- 1. agent start → seen alive by all peers ----------------------------------

interface JoinRun {
  /** From just before labAdd (key provisioning + config + spawn included). */
  fromLabAdd: number | null
  fromSpawn: number | null
  /** The same instant from the peers' own 'joined' events: no polling lag. */
  byEventsFromSpawn: number | null
  boot: number | null
  transportUp: number | null
  apiUp: number | null
  seesAll: number | null
  /** From the newcomer's log: when it had accepted a record from every peer. */
  learnedAll: number | null
  /** Set when the 5-node lab did not converge after the join. */
  trouble?: string
}

async function measureJoin(lab: BenchLab): Promise<JoinRun> {
  const before = await readLabFile(lab.dir)
  const board = 'x86'
  const slot = Math.max(...before.nodes.map((n) => n.slot)) + 1
  const newName = nodeName(board, slot)
  const newcomer = { name: newName, address: loopbackAddress(before.index, slot) }
  const total = before.nodes.length + 1
  const t0 = Date.now()
  const adding = labAdd(lab.dir, board, { timeoutMs: 60_000 })
  adding.catch(() => {}) // awaited below, after the pollers
  const [seen, own] = await Promise.all([
    firstTimes(
      targets(before.nodes),
      { alive: (v) => stateOf(v, newName) === 'alive' },
      { intervalMs: POLL_MS, timeoutMs: 30_000 },
    ),
    firstTimes(
      [newcomer],
      { seesAll: (v) => aliveCount(v) === total },
      { intervalMs: POLL_MS, timeoutMs: 30_000 },
    ),
  ])
  let trouble: string | undefined
  const node = await adding.catch(async (err) => {
    if (!isTimeout(err)) throw err
    trouble = `the 5-node lab did not converge after the join (${short(err)})`
    const n = (await readLabFile(lab.dir)).nodes.find((x) => x.name === newName)
    if (!n) throw err
    return n
  })
  const seenAll = lastOf(seen, 'alive')
  const spawn = node.pid ? await startedAtMs(node.pid) : null
  const log = await logTimes(join(lab.dir, 'nodes', newName, 'agent.log'))
  const first = (msg: string) => log.get(msg)?.[0] ?? null
  let byEvents: number | null = 0
  for (const v of (await views(targets(before.nodes))).values()) {
    const at = v?.events.find((e) => e.kind === 'joined' && e.name === newName)?.atMs
    byEvents = at === undefined || byEvents === null ? null : Math.max(byEvents, at)
  }
  return {
    fromLabAdd: diff(seenAll, t0),
    fromSpawn: diff(seenAll, spawn),
    byEventsFromSpawn: diff(byEvents, spawn),
    boot: diff(first('agent starting'), spawn),
    transportUp: diff(first('mesh transport up'), spawn),
    apiUp: diff(first('status page and API listening'), spawn),
    seesAll: diff(own.get(newName)?.seesAll, spawn),
    learnedAll: diff(log.get('member joined the mesh')?.[before.nodes.length - 1], spawn),
    trouble,
  }
}

function joinRows(runs: JoinRun[], trouble: string[]): Row[] {
  if (runs.length === 0 && trouble.length === 0) return []
  type Timing = Exclude<keyof JoinRun, 'trouble'>
  const col = (k: Timing) => runs.map((r) => r[k])
  const goal = { max: JOIN_GOAL_MS }
  const info = (metric: string, k: Timing, note?: string): Row => ({
    metric,
    value: median(col(k)),
    unit: 'ms',
    note: `${runsNote(col(k), 'ms')}${note ? `; ${note}` : ''}`,
  })
  return [
    {
      metric: 'join: labAdd → alive on all 4 peers, median',
      value: median(col('fromLabAdd')),
      unit: 'ms',
      goal,
      note:
        `${runsNote(col('fromLabAdd'), 'ms')}; a fresh 4-node lab per run, peers polled every ${POLL_MS} ms` +
        (trouble.length > 0 ? `; NOT CONVERGED: ${trouble.join(' | ')}` : ''),
    },
    { metric: 'join: labAdd → alive on all 4 peers, max', value: max(col('fromLabAdd')), unit: 'ms', goal },
    info(
      'join: spawn → alive on all peers (peer events), median',
      'byEventsFromSpawn',
      "each peer's 'joined' event time: no polling lag",
    ),
    info(
      'join: spawn → "agent starting" logged, median',
      'boot',
      'node start-up + module loading + identity/cluster files',
    ),
    info('join: spawn → mesh transport up, median', 'transportUp', 'facts + hyperdht bound and bootstrapped'),
    info('join: spawn → API listening, median', 'apiUp'),
    info(
      'join: spawn → newcomer logged all 4 peers joined, median',
      'learnedAll',
      "newcomer's log: no polling lag",
    ),
    info('join: spawn → newcomer API shows all 5 alive, median', 'seesAll'),
  ]
}

// ---- 2. unplug → marked dead by all peers --------------------------------------

const SETTLE_TIMEOUT_MS = 30_000

/**
 * Waits until every node sees all of them alive; returns when that happened (null:
 * timed out) and, on a timeout, who lags and how many mesh connections it has.
 */
async function waitAllAlive(
  ctx: BenchContext,
  nodes: LabNode[],
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<{ at: number | null; lagging: string[] }> {
  const t = await firstTimes(
    targets(nodes),
    { all: (v) => aliveCount(v) === nodes.length },
    { intervalMs: POLL_MS, timeoutMs },
  )
  const at = lastOf(t, 'all')
  if (at !== null) return { at, lagging: [] }
  const lagging: string[] = []
  const now = await views(targets(nodes))
  for (const n of nodes) {
    if (t.get(n.name)?.all !== null) continue
    const mesh = await meshInfo(n)
    lagging.push(
      `${n.name} sees ${now.get(n.name) ? aliveCount(now.get(n.name)!) : '?'}/${nodes.length} alive, ${mesh?.connections ?? '?'} connections`,
    )
  }
  ctx.progress(`not converged after ${timeoutMs / 1000} s: ${lagging.join('; ')}`)
  return { at: null, lagging }
}

/** Bytes written on each of a node's mesh links so far, by peer. */
async function meshLinks(node: {
  address: string
}): Promise<{ count: number; out: Map<string, number> } | null> {
  try {
    const res = await fetch(new URL('/api/v1/mesh', nodeUrl(node)), { signal: AbortSignal.timeout(2000) })
    if (!res.ok) return null
    const info = (await res.json()) as { connections: number; links: { peer: string; bytesOut: number }[] }
    const out = new Map<string, number>()
    for (const l of info.links) out.set(l.peer, (out.get(l.peer) ?? 0) + l.bytesOut)
    return { count: info.connections, out }
  } catch {
    return null
  }
}

async function meshInfo(node: { address: string }): Promise<{ connections: number } | null> {
  try {
    const res = await fetch(new URL('/api/v1/mesh', nodeUrl(node)), { signal: AbortSignal.timeout(2000) })
    return res.ok ? ((await res.json()) as { connections: number }) : null
  } catch {
    return null
  }
}

async function measureUnplug(ctx: BenchContext, lab: BenchLab, reps: number): Promise<Row[]> {
  const nodes = (await readLabFile(lab.dir)).nodes
  const dead: (number | null)[] = []
  const deadByEvents: (number | null)[] = []
  const suspect: (number | null)[] = []
  const back: (number | null)[] = []
  const trouble: string[] = []
  for (let rep = 0; rep < reps; rep++) {
    const settled = await waitAllAlive(ctx, nodes)
    // A node that does not see the whole mesh can neither observe nor be a fair victim.
    const unwell = new Set(settled.lagging.map((l) => l.split(' ')[0]))
    const candidates = nodes.slice(1).filter((n) => !unwell.has(n.name))
    const victim = candidates[rep % candidates.length]
    const observers = nodes.filter((n) => n !== victim && !unwell.has(n.name))
    if (!victim || observers.length === 0)
      throw new Error(`no healthy nodes left to unplug: ${settled.lagging.join('; ')}`)
    ctx.progress(`unplug ${rep + 1}/${reps}: ${victim.name}, watched by ${observers.length} peers`)
    const t0 = Date.now()
    await labUnplug(lab.dir, victim.name)
    const times = await firstTimes(
      targets(observers),
      {
        suspect: (v) => stateOf(v, victim.name) !== 'alive',
        dead: (v) => stateOf(v, victim.name) === 'dead',
      },
      { intervalMs: POLL_MS, timeoutMs: 30_000 },
    )
    dead.push(diff(lastOf(times, 'dead'), t0))
    suspect.push(diff(lastOf(times, 'suspect'), t0))
    let lastDead: number | null = 0
    for (const v of (await views(targets(observers))).values()) {
      const at = v?.events.findLast((e) => e.kind === 'dead' && e.name === victim.name)?.atMs
      lastDead = at === undefined || lastDead === null ? null : Math.max(lastDead, at)
    }
    deadByEvents.push(diff(lastDead, t0))
    ctx.progress(
      `unplug ${rep + 1}/${reps}: dead on all peers after ${fmt(dead.at(-1)!)} ms; plugging back in`,
    )
    const t1 = Date.now()
    await labPlug(lab.dir, victim.name)
    const rejoined = await waitAllAlive(ctx, nodes)
    back.push(diff(rejoined.at, t1))
    if (rejoined.at === null)
      trouble.push(`run ${rep + 1} (${victim.name} replugged): ${rejoined.lagging.join('; ')}`)
  }
  const goal =
    nodes.length <= 20 ? { max: DEAD_GOAL_MS } : nodes.length <= 200 ? { max: DEAD_GOAL_BIG_MS } : undefined
  const peers = `${nodes.length - 1} peers`
  return [
    {
      metric: `unplug → dead on all ${peers}, median`,
      value: median(dead),
      unit: 'ms',
      goal,
      note: `${runsNote(dead, 'ms')}; SWIM: the first probe of the victim, ping-req, suspicion shortened by confirmations, then gossip`,
    },
    { metric: `unplug → dead on all ${peers}, max`, value: max(dead), unit: 'ms', goal },
    {
      metric: `unplug → dead on all ${peers} (peer events), median`,
      value: median(deadByEvents),
      unit: 'ms',
      note: runsNote(deadByEvents, 'ms'),
    },
    {
      metric: `unplug → suspect on all ${peers}, median`,
      value: median(suspect),
      unit: 'ms',
      note: runsNote(suspect, 'ms'),
    },
    {
      metric: `plug → all ${nodes.length} alive on all nodes, median`,
      value: median(back),
      unit: 'ms',
      note:
        `${runsNote(back, 'ms')}; restart with a higher incarnation` +
        (trouble.length > 0
          ? `; NOT REJOINED within ${SETTLE_TIMEOUT_MS / 1000} s: ${trouble.join(' | ')}`
          : ''),
    },
  ]
}

// ---- 3. idle memory and CPU per agent ------------------------------------------

async function measureIdle(ctx: BenchContext, lab: BenchLab, idleMs: number): Promise<Row[]> {
  const nodes = (await readLabFile(lab.dir)).nodes
  const n = nodes.length
  const settled = await waitAllAlive(ctx, nodes)
  const pids = nodes.map((x) => x.pid).filter((p): p is number => p !== null)
  const cpu0 = await Promise.all(pids.map(cpuMs))
  const links0 = await Promise.all(nodes.map(meshLinks))
  ctx.progress(`${n} nodes converged; idling ${idleMs / 1000} s before reading /proc`)
  await sleep(idleMs)
  const cpu1 = await Promise.all(pids.map(cpuMs))
  const links1 = await Promise.all(nodes.map(meshLinks))
  const mem = (await Promise.all(pids.map(memStatus))).filter((m) => m !== null)
  const pss = (await Promise.all(pids.map(pssKB))).map((k) => (k === null ? null : k / 1024))
  const mb = (kb: number) => kb / 1024
  const rss = mem.map((m) => mb(m.rssKB))
  const cpuPct = pids.map((_, i) => {
    const d = diff(cpu1[i], cpu0[i])
    return d === null ? null : (d / idleMs) * 100
  })
  const breakdown =
    `mean of ${mem.length} agents: anon ${mean(mem.map((m) => mb(m.anonKB)))?.toFixed(1)} MB, ` +
    `file-backed ${mean(mem.map((m) => mb(m.fileKB)))?.toFixed(1)} MB, shmem ${mean(mem.map((m) => mb(m.shmemKB)))?.toFixed(1)} MB, ` +
    `${mean(mem.map((m) => m.threads))?.toFixed(0)} threads; VmRSS after ${idleMs / 1000} s idle (MB = MiB)` +
    (settled.at === null ? `; mesh NOT fully converged: ${settled.lagging.join('; ')}` : '')
  const goal = n <= 20 ? { max: RSS_GOAL_MB } : undefined
  // Bytes each agent wrote on its mesh links over the window (links that closed meanwhile
  // are missed: an undercount, small once the lab is idle).
  const bytesOut = links1.map((l1, i) => {
    const l0 = links0[i]
    if (!l1 || !l0) return null
    let b = 0
    for (const [peer, out] of l1.out) b += out - (l0.out.get(peer) ?? 0)
    return Math.max(0, b) / (idleMs / 1000)
  })
  const conns = links1.map((l) => l?.count ?? null)
  return [
    {
      metric: `mesh bytes sent per agent, ${n} nodes, mean`,
      value: mean(bytesOut),
      unit: 'B/s',
      goal: { max: BYTES_GOAL },
      note: `max ${Math.round(max(bytesOut) ?? 0)} B/s; on the wire (Noise, UDX framing included), idle cluster`,
    },
    {
      metric: `mesh connections per agent, ${n} nodes, max`,
      value: max(conns),
      unit: 'links',
      goal: { max: LINKS_GOAL },
      note: `mean ${mean(conns)?.toFixed(1)}`,
    },
    { metric: `idle RSS per agent, ${n} nodes, mean`, value: mean(rss), unit: 'MB', goal, note: breakdown },
    { metric: `idle RSS per agent, ${n} nodes, max`, value: max(rss), unit: 'MB', goal },
    {
      metric: `idle PSS per agent, ${n} nodes, mean`,
      value: mean(pss),
      unit: 'MB',
      note: 'shared pages (node binary, libraries) divided among the agents mapping them: the real cost of one more agent',
    },
    {
      metric: `idle CPU per agent, ${n} nodes, mean`,
      value: mean(cpuPct),
      unit: '% core',
      note: `max ${max(cpuPct)?.toFixed(1)}%, whole lab ${cpuPct.reduce<number>((a, b) => a + (b ?? 0), 0).toFixed(0)}% of one core (utime+stime over the idle window)`,
    },
  ]
}

// ---- 4. convergence of a big lab -----------------------------------------------

async function measureBigLab(ctx: BenchContext, idleMs: number): Promise<Row[]> {
  const n = BIG_LAB_NODES
  const goal = { max: CONVERGE_GOAL_MS }
  ctx.progress(`starting a ${n}-node lab (timeout ${BIG_LAB_TIMEOUT_MS / 1000} s)`)
  const t0 = Date.now()
  let labDir: string | null = null
  const load = watchLoad(() => labDir, LOAD_SAMPLE_MS)
  let lab: BenchLab
  try {
    lab = await benchLab(ctx, `converge${n}`, { nodes: n, timeoutMs: BIG_LAB_TIMEOUT_MS }, (d) => {
      labDir = d
    })
  } catch (err) {
    const samples = await load.stop()
    const msg = (err as Error).message
    if (!/timed out/.test(msg)) throw err
    // Not converging in time is a result, not a crash. The lab is gone by now (labUp
    // cleans up on failure), so its last progress message is the evidence.
    const seen = [...msg.matchAll(/sees (\d+)\//g)].map((m) => Number(m[1]))
    const silent = (msg.match(/not answering/g) ?? []).length
    return [
      {
        metric: `converge: ${n} agents, labUp total`,
        value: null,
        unit: 'ms',
        goal,
        note:
          `not converged within ${BIG_LAB_TIMEOUT_MS / 1000} s; at the end ${seen.length} lagging nodes saw ` +
          `${seen.length ? `${Math.min(...seen)}-${Math.max(...seen)} (median ${median(seen)})` : '?'} of ${n} alive, ${silent} did not answer`,
      },
      loadRow(n, samples),
    ]
  }
  const samples = await load.stop()
  try {
    const upDone = t0 + lab.upMs
    ctx.progress(`${n} nodes converged in ${lab.upMs} ms`)
    const spawns = (await Promise.all(lab.lab.nodes.map((x) => (x.pid ? startedAtMs(x.pid) : null)))).filter(
      (s) => s !== null,
    )
    const firstSpawn = Math.min(...spawns)
    const lastSpawn = Math.max(...spawns)
    // When each node last saw a member come (back) to life: once the last node has, the mesh is whole.
    let convergedAt: number | null = 0
    let flaps = 0
    for (const v of (await views(targets(lab.lab.nodes))).values()) {
      if (!v) {
        convergedAt = null
        continue
      }
      flaps += v.events.filter((e) => e.kind === 'suspect').length
      const lastUp = Math.max(
        ...v.events.filter((e) => ['joined', 'refuted', 'rejoined'].includes(e.kind)).map((e) => e.atMs),
      )
      if (convergedAt !== null) convergedAt = Math.max(convergedAt, lastUp)
    }
    const rows: Row[] = [
      loadRow(n, samples),
      {
        metric: `converge: ${n} agents, labUp total`,
        value: lab.upMs,
        unit: 'ms',
        goal,
        note: `includes spawning ${n} agents one by one (first → last spawn ${lastSpawn - firstSpawn} ms)`,
      },
      {
        metric: `converge: ${n} agents, last spawn → converged (lab poll)`,
        value: upDone - lastSpawn,
        unit: 'ms',
        goal,
        note: `labUp's own check: every node sees ${n} alive; polled every 250 ms, each poll fetches ${n} views`,
      },
      {
        metric: `converge: ${n} agents, last spawn → converged (node events)`,
        value: diff(convergedAt, lastSpawn),
        unit: 'ms',
        goal,
        note: `latest joined/refuted/rejoined event on any node; ${flaps} suspect events during start-up`,
      },
    ]
    await section(ctx, `idle ${n} nodes`, async () => {
      rows.push(
        ...(await measureIdle(ctx, lab, idleMs)).filter(
          (r) => !r.metric.endsWith(', max') || r.unit === 'links',
        ),
      )
    })
    await section(ctx, `unplug ${n} nodes`, async () => rows.push(...(await measureUnplug(ctx, lab, 1))))
    return rows
  } finally {
    await lab.close()
  }
}

interface LoadSample {
  /** CPU used by all the lab's agents, in % of one core. */
  agentsPct: number
  /** The whole machine's busy share, in % of all cores (other work included). */
  machinePct: number
  rssMB: number | null
}

/** Samples the lab's agents from /proc while labUp waits: what the wait is spent on. */
function watchLoad(dirOf: () => string | null, everyMs: number): { stop(): Promise<LoadSample[]> } {
  const samples: LoadSample[] = []
  let stopped = false
  const loop = (async () => {
    let prev: { key: string; cpu: number; machine: { busy: number; total: number }; at: number } | null = null
    while (!stopped) {
      for (let waited = 0; waited < everyMs && !stopped; waited += 250) await sleep(250)
      const dir = dirOf()
      if (stopped || !dir) continue
      const pids = ((await readLabFile(dir).catch(() => null))?.nodes ?? [])
        .map((x) => x.pid)
        .filter((p) => p !== null)
      if (pids.length === 0) continue // labUp writes the pids once every agent is spawned
      const cpu = await Promise.all(pids.map(cpuMs))
      if (cpu.some((c) => c === null)) {
        prev = null // an agent is gone: the lab is being torn down
        continue
      }
      const cur = {
        key: pids.join(),
        cpu: cpu.reduce<number>((a, b) => a + (b ?? 0), 0),
        machine: await machineTicks(),
        at: Date.now(),
      }
      if (prev?.key === cur.key) {
        const mem = await Promise.all(pids.map(memStatus))
        samples.push({
          agentsPct: ((cur.cpu - prev.cpu) / (cur.at - prev.at)) * 100,
          machinePct:
            ((cur.machine.busy - prev.machine.busy) / Math.max(1, cur.machine.total - prev.machine.total)) *
            100,
          rssMB: mean(mem.map((m) => (m ? m.rssKB / 1024 : null))),
        })
      }
      prev = cur
    }
  })()
  return {
    async stop() {
      stopped = true
      await loop
      return samples
    },
  }
}

function loadRow(n: number, samples: LoadSample[]): Row {
  return {
    metric: `converge: ${n} agents, CPU of all agents while converging`,
    value: mean(samples.map((x) => x.agentsPct)),
    unit: '% core',
    note:
      `machine busy ${mean(samples.map((x) => x.machinePct))?.toFixed(0)}% of ${cpus().length} cores; ` +
      `agent RSS mean ${mean(samples.map((x) => x.rssMB))?.toFixed(0)} MB; ${samples.length} samples of ${LOAD_SAMPLE_MS / 1000} s after the last spawn`,
  }
}
