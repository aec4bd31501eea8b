// Releases (issue 13): a release published to one node → complete on every node, and
// what the origin uploaded ÷ the release size, for 3, 6 and 12 nodes — beside the
// plain way in the same run: the same bytes copied from the origin to every node one
// after another (the admin upload path, HTTPS with mutual TLS), whose first copy is
// "one single transfer".
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { publishRelease } from '../../cli/release-publish.js'
import { labReleaseKey, waitNodesHold } from '../../lab/netboot/release.js'
import { makeSignedRelease, releasesOf } from '../support/releases.js'
import { benchLab } from './lab.js'
import type { BenchContext, Row } from './types.js'

export const name = 'releases'

const MB = 1_000_000

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const sizes = ctx.quick ? [3, 6] : [3, 6, 12]
  const pad = (ctx.quick ? 40 : 100) * 1024 * 1024
  for (const n of sizes) {
    const lab = await benchLab(ctx, `releases-${n}`, { nodes: n, kube: false })
    try {
      const key = await labReleaseKey(lab.dir)
      const admin = join(lab.dir, 'admin.json')
      const origin = lab.lab.nodes[0]!
      // Peer to peer: upload once to the origin, then the cluster spreads it.
      const p2p = await makeSignedRelease(join(lab.dir, 'p2p'), key, { version: `p2p-${n}`, padBytes: pad })
      const tUp = performance.now()
      await publishRelease({ admin, dir: p2p.dir, node: origin.name })
      const t0 = performance.now()
      ctx.progress(
        `${n} nodes: ${(p2p.bytes / MB).toFixed(0)} MB on the origin in ${((t0 - tUp) / 1000).toFixed(1)} s; spreading`,
      )
      await waitNodesHold(lab.lab, p2p.id, { timeoutMs: 900_000 })
      const spreadS = (performance.now() - t0) / 1000
      const uploaded = (await releasesOf(origin)).local.uploadedBytes[p2p.id] ?? 0
      // The plain way: the same size copied from the origin's files to each node in turn.
      const plain = await makeSignedRelease(join(lab.dir, 'plain'), key, {
        version: `plain-${n}`,
        padBytes: pad,
      })
      const copies: number[] = []
      for (const target of lab.lab.nodes.slice(1)) {
        const t = performance.now()
        await publishRelease({ admin, dir: plain.dir, node: target.name, announce: false })
        copies.push((performance.now() - t) / 1000)
      }
      const single = copies[0]!
      const sequential = copies.reduce((a, b) => a + b, 0)
      rows.push(
        {
          metric: `${n} nodes: published → complete on every node`,
          value: Number(spreadS.toFixed(2)),
          unit: 's',
          note: `${(p2p.bytes / MB).toFixed(0)} MB; one copy to one node: ${single.toFixed(2)} s`,
        },
        {
          metric: `${n} nodes: origin upload ÷ release size`,
          value: Number((uploaded / p2p.bytes).toFixed(2)),
          unit: '×',
          goal: { max: 1.5 },
        },
        {
          metric: `${n} nodes: complete everywhere ÷ one single transfer`,
          value: Number((spreadS / single).toFixed(2)),
          unit: '×',
          goal: { max: 2 },
        },
        {
          metric: `${n} nodes: plain way, copied from the origin to each node in turn`,
          value: Number(sequential.toFixed(2)),
          unit: 's',
          note: `origin upload ${((copies.length * plain.bytes) / p2p.bytes).toFixed(0)} × the release`,
        },
      )
    } catch (err) {
      ctx.fail(`releases with ${n} nodes`, err)
    } finally {
      await lab.close()
    }
  }
  return rows
}
