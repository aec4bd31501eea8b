// Releases (issue 13): a release published to one node → complete on every node, and
// what the origin uploaded ÷ the release size, for 3, 6 and 12 nodes — beside the plain
// way in the same lab: the same bytes copied from the origin to every node one after
// another (the admin upload path, HTTPS with mutual TLS), whose first copy is "one
// single transfer". Two settings:
//  - links: a namespace lab whose every node has a link of its own, rate-limited both
//    ways (tc tbf on its veth) like a machine on a home switch, and the plain copies
//    sent from inside the origin's namespace, so they cross the origin's link. This is
//    what the time goal means (each machine has its own network link).
//  - loopback: every node on 127.0.1.N with no limit: the two shared cores are the only
//    bottleneck, so N copies cost N× the CPU whatever the algorithm (a CPU reference).
// Each spread row notes how busy the machine was meanwhile (all of it, and the lab's
// agents alone), so a number that is really the CPU's is seen as such.

import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { execa } from 'execa'
import { publishRelease } from '../../cli/release-publish.js'
import type { LabFile } from '../../lab/lab-file.js'
import { labReleaseKey, waitNodesHold } from '../../lab/netboot/release.js'
import { labNames, shapeLink } from '../../lab/netns/index.js'
import { makeSignedRelease, releasesOf } from '../support/releases.js'
import { type BenchLab, benchLab, cpuMs, machineTicks } from './lab.js'
import type { BenchContext, Row } from './types.js'

export const name = 'releases'

const MB = 1_000_000
/** Each node's link in the namespace lab, both ways (override: HOMECLOUD_BENCH_LINK_MBIT). */
const linkMbitDefault = 100

interface Setting {
  kind: 'links' | 'loopback'
  mbit: number | null
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const sizes = ctx.quick ? [3, 6] : [3, 6, 12]
  const pad = (ctx.quick ? 40 : 100) * 1024 * 1024
  const mbit = Number(process.env.HOMECLOUD_BENCH_LINK_MBIT ?? linkMbitDefault)
  const root = process.getuid?.() === 0
  // HOMECLOUD_BENCH_RELEASE_SETTINGS=links (or loopback) runs one setting only.
  const only = process.env.HOMECLOUD_BENCH_RELEASE_SETTINGS
  const settings = (
    [
      ...(root ? [{ kind: 'links' as const, mbit }] : []),
      { kind: 'loopback', mbit: null },
    ] satisfies Setting[]
  ).filter((s) => !only || only.split(',').includes(s.kind))
  if (!root) ctx.progress('not root: no namespace lab, loopback only')
  for (const setting of settings)
    for (const n of sizes) {
      const label = setting.kind === 'links' ? `${n} nodes, ${mbit} Mbit/s links` : `${n} nodes, loopback`
      const lab = await benchLab(ctx, `releases-${setting.kind}-${n}`, {
        nodes: n,
        kube: false,
        netns: setting.kind === 'links',
      })
      try {
        rows.push(...(await measure(ctx, lab, setting, pad, label)))
      } catch (err) {
        ctx.fail(`releases, ${label}`, err)
      } finally {
        await lab.close()
      }
    }
  return rows
}

async function measure(
  ctx: BenchContext,
  lab: BenchLab,
  setting: Setting,
  pad: number,
  label: string,
): Promise<Row[]> {
  const key = await labReleaseKey(lab.dir)
  const admin = join(lab.dir, 'admin.json')
  const origin = lab.lab.nodes[0]!
  const p2p = await makeSignedRelease(join(lab.dir, 'p2p'), key, { version: 'p2p', padBytes: pad })
  const plain = await makeSignedRelease(join(lab.dir, 'plain'), key, { version: 'plain', padBytes: pad })
  // The upload to the origin is not what is measured: it goes first, unlimited and
  // unannounced; the links are then limited and the release announced (nothing left to upload).
  await publishRelease({ admin, dir: p2p.dir, node: origin.name, announce: false })
  if (setting.mbit !== null)
    for (const n of lab.lab.nodes) await shapeLink(lab.lab.index, n.slot, setting.mbit)
  const load = await loadMeter(lab.lab)
  const t0 = performance.now()
  await publishRelease({ admin, dir: p2p.dir, node: origin.name })
  ctx.progress(`${label}: ${(p2p.bytes / MB).toFixed(0)} MB published to ${origin.name}; spreading`)
  await waitNodesHold(lab.lab, p2p.id, { timeoutMs: 1_800_000 })
  const spreadS = (performance.now() - t0) / 1000
  const busy = await load.read()
  const uploaded = (await releasesOf(origin)).local.uploadedBytes[p2p.id] ?? 0
  ctx.progress(`${label}: spread in ${spreadS.toFixed(1)} s; now the plain way, one node after another`)
  const copies: number[] = []
  for (const target of lab.lab.nodes.slice(1))
    copies.push(await plainCopy(lab.lab, setting, admin, plain.dir, target.name))
  const single = copies[0]!
  const sequential = copies.reduce((a, b) => a + b, 0)
  const n = lab.lab.nodes.length
  return [
    {
      metric: `${label}: published → complete on every node`,
      value: Number(spreadS.toFixed(2)),
      unit: 's',
      note: `${(p2p.bytes / MB).toFixed(0)} MB; one single transfer ${single.toFixed(2)} s; ${busy}`,
    },
    {
      metric: `${label}: origin upload ÷ release size`,
      value: Number((uploaded / p2p.bytes).toFixed(2)),
      unit: '×',
      goal: { max: 1.5 },
    },
    {
      metric: `${label}: complete everywhere ÷ one single transfer`,
      value: Number((spreadS / single).toFixed(2)),
      unit: '×',
      goal: { max: 2 },
    },
    {
      metric: `${label}: plain way, from the origin to each node in turn`,
      value: Number(sequential.toFixed(2)),
      unit: 's',
      note: `origin upload ${n - 1} × the release; ${(sequential / single).toFixed(1)} × one single transfer`,
    },
  ]
}

/** One plain copy (s): from the origin's namespace when the links are limited, else from here. */
async function plainCopy(
  lab: LabFile,
  setting: Setting,
  admin: string,
  dir: string,
  target: string,
): Promise<number> {
  if (setting.mbit === null) {
    const t = performance.now()
    await publishRelease({ admin, dir, node: target, announce: false })
    return (performance.now() - t) / 1000
  }
  const ns = labNames(lab.index, lab.nodes[0]!.slot).netns
  const script = join(import.meta.dirname, 'releases-copy.ts')
  const r = await execa(
    'ip',
    ['netns', 'exec', ns, process.execPath, '--import', 'tsx', script, admin, dir, target],
    {
      timeout: 1_800_000,
    },
  )
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms: number }).ms / 1000
}

/** How busy the machine was between now and read(): all of it, and the lab's agents alone. */
async function loadMeter(lab: LabFile): Promise<{ read(): Promise<string> }> {
  const pids = lab.nodes.map((n) => n.pid).filter((p): p is number => p !== null)
  const agentsMs = async () => (await Promise.all(pids.map(cpuMs))).reduce<number>((a, b) => a + (b ?? 0), 0)
  const m0 = await machineTicks()
  const a0 = await agentsMs()
  const t0 = performance.now()
  return {
    async read() {
      const m1 = await machineTicks()
      const agents = (await agentsMs()) - a0
      const cores = cpus().length
      const wallMs = performance.now() - t0
      const machine = (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)
      return `machine ${(machine * 100).toFixed(0)}% busy (${cores} cores), the agents ${((agents / (wallMs * cores)) * 100).toFixed(0)}%, load ${loadavg()[0]!.toFixed(1)}`
    },
  }
}
