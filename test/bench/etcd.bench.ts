// etcd run by the agents, Debian's 3.4 (what installed clusters run) beside the
// pinned 3.6 built from source, in the same run: founding → first quorum, founding →
// three voters, etcd and agent RSS, and dead voter → three healthy voters again,
// measured from the end of the failover grace (as the coordinator counts it: the time
// of death it keeps in the placement record), under a continuous write load whose
// every acknowledged write is then looked for on every voter. Loopback lab of ARM
// boards with the test timings (grace 5 s). Then Kubernetes on each (etcd-kube.ts).
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { etcdBinDir, etcdProgram, etcdVersion } from '../../agent/etcd/binaries.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { clientUrlOf } from '../../agent/etcd/spec.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { readLabFile } from '../../lab/lab-file.js'
import { labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import {
  CP_CONFIG,
  controlPlaneOf,
  etcdClientWith,
  healthyVoters,
  nodeIdOf,
  readPlacement,
} from '../support/controlplane.js'
import { etcdBuild } from '../support/etcd-builds.js'
import { missingOn, startWriteLoad } from '../support/write-load.js'
import { agentRssMB, etcdRssMB, kubeOnEtcd, settledVoters } from './etcd-kube.js'
import { benchLab } from './lab.js'
import { max, median, runsNote } from './stats.js'
import type { BenchContext, Row } from './types.js'

export const name = 'etcd'

const GRACE_MS = CP_CONFIG.controlPlane.failoverGraceMs
const REPLACE_GOAL_MS = 10_000
const prefix = '/bench/acked/'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wall time of the first log line of `node` whose msg (or event) matches. */
async function logTime(lab: LabFile, node: LabNode, match: (l: { msg?: string; event?: string }) => boolean) {
  const text = await readFile(join(lab.dir, 'nodes', node.name, 'agent.log'), 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const l = JSON.parse(line) as { time?: string | number; msg?: string; event?: string }
      if (match(l) && l.time !== undefined) return typeof l.time === 'number' ? l.time : Date.parse(l.time)
    } catch {}
  }
  return null
}

/**
 * Watches the founder from the moment the lab directory exists: the first time its
 * etcd answers /health, and the first time three voters are healthy.
 */
function watchFounding(dir: string) {
  let stop = false
  const out = { healthyAt: null as number | null, threeAt: null as number | null }
  const done = (async () => {
    let client: EtcdClient | undefined
    while (!stop && out.threeAt === null) {
      await sleep(50)
      try {
        const lab = await readLabFile(dir)
        const founder = lab.nodes[0]
        if (!founder) continue
        client ??= await etcdClientWith(founder.stateDir, [clientUrlOf(founder.address)], 1000)
        if (out.healthyAt === null) {
          if ((await client.health(clientUrlOf(founder.address), 500)).healthy) out.healthyAt = Date.now()
          continue
        }
        const list = await client.memberList({ timeoutMs: 1000 })
        const voters = list.members.filter((m) => !m.isLearner && m.clientUrls.length > 0)
        if (voters.length === 3 && list.members.length === 3) {
          const health = await Promise.all(voters.map((m) => client!.health(m.clientUrls[0]!, 1000)))
          if (health.every((h) => h.healthy)) out.threeAt = Date.now()
        }
      } catch {
        client?.close()
        client = undefined
      }
    }
    client?.close()
  })()
  return {
    out,
    async stop() {
      stop = true
      await done
    },
  }
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  // Debian's 3.4 has no etcdutl: the agent's snapshot status uses 3.6's, which reads 3.4 files.
  const baseline = await mkdtemp(join(tmpdir(), 'hc-bench-etcd34-'))
  const debian = await etcdBuild('3.4')
  await symlink(etcdProgram('etcd', debian), join(baseline, 'etcd'))
  await symlink(etcdProgram('etcdctl', debian), join(baseline, 'etcdctl'))
  await symlink(etcdProgram('etcdutl', etcdBinDir()), join(baseline, 'etcdutl'))
  const releases = [
    { tag: `${debian.split('/').at(-3)} Debian`, binDir: baseline },
    { tag: `${etcdVersion} built`, binDir: undefined },
  ]
  const results: Row[][] = []
  const saved = process.env.HOMECLOUD_ETCD_BIN
  try {
    for (const r of releases) {
      // The lab's agents inherit the environment: this is the etcd they run.
      if (r.binDir) process.env.HOMECLOUD_ETCD_BIN = r.binDir
      else delete process.env.HOMECLOUD_ETCD_BIN
      ctx.progress(`etcd: lab on ${r.tag}`)
      results.push([...(await etcdLab(ctx)), ...(await kubeOnEtcd(ctx, r.tag.split(' ')[0]!))])
    }
  } finally {
    if (saved === undefined) delete process.env.HOMECLOUD_ETCD_BIN
    else process.env.HOMECLOUD_ETCD_BIN = saved
    await rm(baseline, { recursive: true, force: true })
  }
  return sideBySide(
    results,
    releases.map((r) => r.tag),
  )
}

/** Each metric once per release, next to each other, in the order first measured. */
export function sideBySide(results: Row[][], tags: string[]): Row[] {
  const metrics = [...new Set(results.flat().map((r) => r.metric))]
  return metrics.flatMap((m) =>
    results.map((rows, i) => {
      const row = rows.find((r) => r.metric === m) ?? { metric: m, value: null, unit: '' }
      return { ...row, metric: `${m} [etcd ${tags[i]}]` }
    }),
  )
}

async function etcdLab(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  // Three voters and a spare per replacement: quick replaces one voter, the full run three
  // (a plain voter, the coordinator, then the etcd leader if it is another board).
  const runs = ctx.quick ? 1 : 3
  const boards = ['pi5', 'rock5b', 'opi5', 'pi4-ssd', 'pi5', 'rock5b'].slice(0, 3 + runs).join(',')
  let watch: ReturnType<typeof watchFounding> | undefined
  const bench = await benchLab(ctx, 'etcd', { boards, agentConfig: CP_CONFIG }, (dir) => {
    watch = watchFounding(dir)
  })
  const closers: (() => void)[] = []
  let load: ReturnType<typeof startWriteLoad> | undefined
  try {
    const { lab } = bench
    const nodes = lab.nodes
    const founder = nodes[0]!
    ctx.progress('etcd: waiting for three healthy voters')
    await waitFor(async () => (watch!.out.threeAt !== null ? true : 'not yet three healthy voters'), {
      timeoutMs: 120_000,
    })
    await watch!.stop()
    const started = await logTime(lab, founder, (l) => l.msg === 'agent starting')
    const firstQuorum =
      started !== null && watch!.out.healthyAt !== null ? watch!.out.healthyAt - started : null
    rows.push({
      metric: 'founding: founder agent start → its etcd healthy (first quorum)',
      value: firstQuorum,
      unit: 'ms',
      note: 'polled every 50 ms; includes the etcd certificates and process start',
    })
    rows.push({
      metric: `founding: founder agent start → 3 healthy voters (${nodes.length} boards)`,
      value: started !== null && watch!.out.threeAt !== null ? watch!.out.threeAt - started : null,
      unit: 'ms',
      note: 'two learners added, assigned, started and promoted one at a time; mesh convergence included',
    })

    // Memory once three voters serve, before any load.
    const { voters: settled, coordinator } = await settledVoters(nodes)
    await sleep(5000)
    const etcdRss = await Promise.all(settled.map(etcdRssMB))
    rows.push(
      {
        metric: 'etcd RSS, 3 voters idle, median',
        value: median(etcdRss),
        unit: 'MB',
        note: `max ${max(etcdRss)} MB, 5 s after three voters`,
      },
      {
        metric: 'agent RSS: the coordinator (JSON gateway client)',
        value: await agentRssMB(coordinator),
        unit: 'MB',
      },
    )

    const byId = new Map<string, LabNode>()
    for (const n of nodes) byId.set(await nodeIdOf(n), n)
    const idOf = new Map([...byId].map(([id, n]) => [n, id]))
    const client = await etcdClientWith(
      founder.stateDir,
      nodes.map((n) => clientUrlOf(n.address)),
    )
    closers.push(() => client.close())
    const writers = await Promise.all(
      [0, 1, 2].map((i) =>
        etcdClientWith(
          founder.stateDir,
          [...nodes.slice(i), ...nodes.slice(0, i)].map((n) => clientUrlOf(n.address)),
        ),
      ),
    )
    for (const w of writers) closers.push(() => w.close())
    load = startWriteLoad(writers, prefix)
    const unplugged = new Set<LabNode>()
    const voterNodes = async () => {
      const list = await client.memberList()
      return list.members.filter((m) => !m.isLearner).map((m) => byId.get(m.name)!)
    }

    const replaceMs: (number | null)[] = []
    const labels: string[] = []
    for (let r = 0; r < runs; r++) {
      const voters = await voterNodes()
      const cp = await controlPlaneOf(nodes.find((n) => !unplugged.has(n))!)
      const pick =
        r === 1
          ? voters.find((v) => v.name === cp?.coordinator)
          : r === 2
            ? voters.find((v) => v.name === cp?.leader && v.name !== cp?.coordinator)
            : voters.find((v) => v.name !== cp?.coordinator && v.name !== cp?.leader)
      const victim = pick ?? voters.find((v) => v.name !== cp?.coordinator)!
      const what =
        victim.name === cp?.coordinator ? 'coordinator' : victim.name === cp?.leader ? 'etcd leader' : 'voter'
      ctx.progress(`etcd: run ${r + 1}/${runs}: unplugging ${what} ${victim.name}`)
      await labUnplug(lab.dir, victim.name)
      unplugged.add(victim)
      const victimId = idOf.get(victim)!
      let deadSince: number | null = null
      let doneAt: number | null = null
      const deadline = Date.now() + GRACE_MS + 90_000
      while (Date.now() < deadline && doneAt === null) {
        await sleep(100)
        try {
          const p = await readPlacement(client)
          const d = p?.deadSince[victimId]
          if (d !== undefined) deadSince = deadSince === null ? d : Math.min(deadSince, d)
        } catch {}
        const now = await voterNodes().catch(() => [])
        if (now.length === 3 && !now.some((v) => v === undefined || unplugged.has(v))) {
          if ((await healthyVoters(client, now)) === true) doneAt = Date.now()
        }
      }
      const value = doneAt !== null && deadSince !== null ? doneAt - (deadSince + GRACE_MS) : null
      replaceMs.push(value)
      labels.push(`${what} ${value === null ? 'timed out' : `${value} ms`}`)
      // Writes keep flowing before the next victim.
      const ackedBefore = load.acked.length
      await waitFor(async () => (load!.acked.length >= ackedBefore + 50 ? true : 'writes stalled'), {
        timeoutMs: 30_000,
      }).catch(() => {})
    }
    rows.push({
      metric: `dead voter → 3 healthy voters, after the grace (${GRACE_MS} ms), median`,
      value: median(replaceMs),
      unit: 'ms',
      goal: { max: REPLACE_GOAL_MS },
      note: `${runsNote(replaceMs, 'ms')}: ${labels.join('; ')}; from the time of death the coordinator recorded`,
    })
    rows.push({
      metric: 'dead voter → 3 healthy voters, after the grace, max',
      value: max(replaceMs),
      unit: 'ms',
      goal: { max: REPLACE_GOAL_MS },
    })

    await load.stop()
    const acked = new Set(load.acked)
    const finalVoters = await voterNodes()
    let lost = 0
    for (const v of finalVoters) {
      let missing = acked.size
      await waitFor(
        async () => {
          missing = await missingOn(client, v.address, prefix, acked, { serializable: true })
          return missing === 0 ? true : `${v.name} misses ${missing}`
        },
        { timeoutMs: 15_000 },
      ).catch(() => {})
      lost = Math.max(lost, missing)
    }
    rows.push({
      metric: 'acknowledged writes lost (any voter)',
      value: lost,
      unit: 'writes',
      goal: { max: 0 },
      note: `${acked.size} acknowledged by 3 writers across ${runs} failover${runs === 1 ? '' : 's'}; ${load.failed()} refused or timed out (retried)`,
    })
  } finally {
    await watch?.stop()
    await load?.stop()
    for (const c of closers) c()
    await bench.close()
  }
  return rows
}
