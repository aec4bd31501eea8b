// Kubernetes as the agents run it (real agent processes, kwok per node): lab start →
// the API answering `/readyz` through a worker's local balancer; the coordinator (an API
// server host) unplugged → the longest gap between successful requests through that
// balancer, and → three API servers again on the new voters; RSS of an agent that
// coordinates (add-ons loaded client-node) and of a worker agent.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { execa } from 'execa'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labKubeconfig, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf } from '../support/controlplane.js'
import { benchLab, memStatus } from './lab.js'
import type { BenchContext, Row } from './types.js'

export const name = 'kube-lab'

const BOARDS = 'pi5,rock5b,pi4-ssd,pi5,x86'

/** The control plane as a node that reads it from etcd says (a worker only knows the records, dead ones too). */
async function etcdView(candidates: readonly LabNode[]) {
  for (const n of candidates) {
    const cp = await controlPlaneOf(n).catch(() => null)
    if (cp?.source === 'etcd' && cp.quorum) return cp
  }
  return null
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const { kubectl } = await findKubePrograms(['kubectl'])
  const t0 = performance.now()
  const lab = await benchLab(ctx, 'kube-lab', { boards: BOARDS, kube: true, agentConfig: CP_CONFIG })
  try {
    const worker = lab.lab.nodes.find((n) => n.board === 'x86')!
    const kubeconfig = join(lab.dir, 'bench.kubeconfig')
    await writeFile(kubeconfig, await labKubeconfig(lab.dir, worker.name), { mode: 0o600 })
    const readyz = async (timeout = '2s') =>
      (
        await execa(
          kubectl,
          ['--kubeconfig', kubeconfig, `--request-timeout=${timeout}`, 'get', '--raw', '/readyz'],
          {
            reject: false,
          },
        )
      ).exitCode === 0
    ctx.progress('waiting for the API through the worker balancer')
    await waitFor(async () => ((await readyz()) ? true : 'not ready'), {
      timeoutMs: 300_000,
      intervalMs: 200,
    })
    rows.push({
      metric: 'lab start (5 agents) → API /readyz through a worker balancer',
      value: Math.round(performance.now() - t0),
      unit: 'ms',
      note: `lab up (mesh converged) took ${lab.upMs} ms of it`,
    })

    // Three voters first, so the unplug is a replacement and not growth.
    await waitFor(
      async () => {
        const cp = await etcdView(lab.lab.nodes)
        return cp && cp.voters.length === 3 && cp.coordinator ? true : 'fewer than 3 voters'
      },
      { timeoutMs: 300_000, intervalMs: 500 },
    )
    const settled = await etcdView(lab.lab.nodes)
    const coordinator = lab.lab.nodes.find((n) => n.name === settled!.coordinator)!
    ctx.progress('settling 20 s before reading memory')
    await new Promise((r) => setTimeout(r, 20_000))
    const coordMem = coordinator.pid ? await memStatus(coordinator.pid) : null
    const workerMem = worker.pid ? await memStatus(worker.pid) : null
    rows.push(
      {
        metric: 'agent RSS: the coordinator (add-ons applied)',
        value: coordMem ? Math.round(coordMem.rssKB / 102.4) / 10 : null,
        unit: 'MB',
      },
      {
        metric: 'agent RSS: an x86 worker (kwok mode)',
        value: workerMem ? Math.round(workerMem.rssKB / 102.4) / 10 : null,
        unit: 'MB',
      },
    )

    let stop = false
    let lastOk = performance.now()
    let longestGap = 0
    const prober = (async () => {
      while (!stop) {
        if (await readyz()) {
          const now = performance.now()
          longestGap = Math.max(longestGap, now - lastOk)
          lastOk = now
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    await new Promise((r) => setTimeout(r, 1000))
    ctx.progress(`unplugging the coordinator ${coordinator.name}`)
    const unpluggedAt = performance.now()
    await labUnplug(lab.dir, coordinator.name)
    await waitFor(
      async () => {
        const cp = await etcdView(lab.lab.nodes.filter((n) => n !== coordinator))
        if (!cp || cp.voters.length !== 3 || cp.voters.includes(coordinator.name)) return 'replacing'
        for (const v of cp.voters) {
          const node = lab.lab.nodes.find((n) => n.name === v)!
          const r = await execa(
            kubectl,
            [
              '--kubeconfig',
              kubeconfig,
              '--server',
              `https://${node.address}:6443`,
              '--tls-server-name',
              'kubernetes.default.svc',
              '--request-timeout=2s',
              'get',
              '--raw',
              '/readyz',
            ],
            { reject: false },
          )
          if (r.exitCode !== 0) return `${v}: API server not ready`
        }
        return true
      },
      { timeoutMs: 300_000, intervalMs: 500 },
    )
    const threeAgainMs = performance.now() - unpluggedAt
    stop = true
    await prober
    rows.push(
      {
        metric: 'coordinator unplugged → longest gap between successful /readyz (balancer)',
        value: Math.round(longestGap),
        unit: 'ms',
        note: 'probing every 100 ms through an x86 worker balancer',
      },
      {
        metric: 'coordinator unplugged → three API servers ready on the new voters',
        value: Math.round(threeAgainMs),
        unit: 'ms',
        note: `includes the failover grace (${CP_CONFIG.controlPlane.failoverGraceMs} ms)`,
      },
    )
  } catch (err) {
    ctx.fail('kube-lab', err)
  } finally {
    await lab.close()
  }
  return rows
}
