// A real kubelet node (kubelet + containerd supervised by the agent) joining a namespace
// lab: plug in → Node Ready; a pod of a local image → Running (real container, sandbox
// from our pause image); RSS of the agent, the kubelet and containerd on that node.
// Needs root (namespaces, containers).

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { kubePaths } from '../../agent/kube/paths.js'
import { runtimePaths } from '../../agent/kube/runtime/paths.js'
import { labAdd } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { labKubectl } from '../support/lab-kubectl.js'
import { busyboxPod, packBusybox } from '../support/oci.js'
import { benchLab, memStatus } from './lab.js'
import type { BenchContext, Row } from './types.js'

export const name = 'kubelet'

const mb = (kb: number | undefined) => (kb === undefined ? null : Math.round(kb / 102.4) / 10)

export async function run(ctx: BenchContext): Promise<Row[]> {
  if (process.getuid?.() !== 0) {
    ctx.progress('kubelet: skipped (needs root)')
    return []
  }
  const rows: Row[] = []
  const images = await mkdtemp(join(tmpdir(), 'hc-bench-images-'))
  const unregister = ctx.onCleanup(() => rm(images, { recursive: true, force: true }))
  await packBusybox(images)
  const lab = await benchLab(ctx, 'kubelet', {
    boards: 'pi5,pi5,pi4',
    netns: true,
    kube: true,
    agentConfig: CP_CONFIG,
  })
  try {
    const { kubectl: k } = await labKubectl(lab.dir, lab.lab.nodes[0]!.name, {
      file: 'bench.kubeconfig',
      requestTimeout: '5s',
    })
    ctx.progress('kubelet: waiting for the API and the default service account')
    await waitFor(async () => ((await k(['get', 'sa', 'default'])).exitCode === 0 ? true : 'not yet'), {
      timeoutMs: 300_000,
      intervalMs: 500,
    })
    ctx.progress('kubelet: plugging in an x86 node with a real kubelet')
    const t0 = performance.now()
    const node = await labAdd(lab.dir, 'x86', {
      kubelet: true,
      agentConfig: { ...CP_CONFIG, kube: { runtime: { imageDirs: [images] } } },
      timeoutMs: 120_000,
    })
    const joinedMs = performance.now() - t0
    await waitFor(
      async () => {
        const r = await k([
          'get',
          'node',
          node.name,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ])
        return r.stdout === 'True' ? true : `Ready=${r.stdout || 'none'}`
      },
      { timeoutMs: 300_000, intervalMs: 200 },
    )
    rows.push({
      metric: 'kubelet node: agent start → Node Ready (containerd, image import, kubelet)',
      value: Math.round(performance.now() - t0),
      unit: 'ms',
      note: `mesh member after ${Math.round(joinedMs)} ms`,
    })
    for (const [i, label] of [
      [1, 'first pod'],
      [2, 'second pod'],
    ] as const) {
      const file = join(lab.dir, `pod${i}.json`)
      await writeFile(file, JSON.stringify(busyboxPod(`bench${i}`, node.name, 'exec sleep 100000')))
      const p0 = performance.now()
      const applied = await k(['apply', '-f', file])
      if (applied.exitCode !== 0) throw new Error(applied.stderr)
      await waitFor(
        async () => {
          const r = await k([
            'get',
            'pod',
            `bench${i}`,
            '-o',
            'jsonpath={.status.containerStatuses[0].ready}',
          ])
          return r.stdout === 'true' ? true : 'not ready'
        },
        { timeoutMs: 180_000, intervalMs: 100 },
      )
      rows.push({
        metric: `kubelet node: ${label} created → container ready`,
        value: Math.round(performance.now() - p0),
        unit: 'ms',
        note: 'local image, sandbox from the imported pause image, CNI bridge',
      })
    }
    ctx.progress('kubelet: settling 15 s before reading memory')
    await new Promise((r) => setTimeout(r, 15_000))
    const rp = runtimePaths(kubePaths(node.stateDir).dir)
    const pidOf = async (f: string) =>
      Number((await readFile(join(rp.pidDir, f), 'utf8').catch(() => '')).trim())
    const kubeletMem = await memStatus(await pidOf('kubelet.pid'))
    const containerdMem = await memStatus(await pidOf('containerd.pid'))
    const agentMem = node.pid ? await memStatus(node.pid) : null
    rows.push(
      { metric: 'kubelet node RSS: agent', value: mb(agentMem?.rssKB), unit: 'MB' },
      { metric: 'kubelet node RSS: kubelet (2 pods)', value: mb(kubeletMem?.rssKB), unit: 'MB' },
      { metric: 'kubelet node RSS: containerd', value: mb(containerdMem?.rssKB), unit: 'MB' },
    )
  } catch (err) {
    ctx.fail('kubelet', err)
  } finally {
    await lab.close()
    unregister()
    await rm(images, { recursive: true, force: true })
  }
  return rows
}
