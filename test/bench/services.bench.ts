// Services on real kubelet nodes (root; namespace lab of three kwok voters and four kubelet
// nodes: two with the encrypted pod network, two with plain routes): pod-to-pod throughput
// across nodes with and without WireGuard (wireguard-go, userspace), the LoadBalancer
// address's failover when its answering node is unplugged (goal ≤ 10 s, MetalLB's own bar),
// and the add-on images' sizes per architecture.

import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { kubeImagesDir } from '../../agent/kube/binaries.js'
import type { LabNode } from '../../lab/lab-file.js'
import { labAdd, labPlug, labUnplug } from '../../lab/launcher.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { applyWhenAccepted, type Kubectl, labKubectl } from '../support/lab-kubectl.js'
import {
  clientPod,
  hostGet,
  placeAddonsOnRealNodes,
  webPod,
  webService,
} from '../support/services-fixture.js'
import { benchLab } from './lab.js'
import type { BenchContext, Row } from './types.js'

export const name = 'services'

const bulkMiB = 64

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows = await imageSizes()
  if (process.getuid?.() !== 0) {
    ctx.progress('services: lab skipped (needs root)')
    return rows
  }
  const lab = await benchLab(ctx, 'services', {
    boards: 'pi5,pi5,pi4',
    netns: true,
    kube: true,
    agentConfig: CP_CONFIG,
  })
  try {
    const { kubectl: k } = await labKubectl(lab.dir, lab.lab.nodes[0]!.name, { file: 'bench.kubeconfig' })
    const add = (encrypt: boolean) =>
      labAdd(lab.dir, 'x86', {
        kubelet: true,
        agentConfig: { ...CP_CONFIG, kube: { podNetwork: { encrypt } } },
        timeoutMs: 180_000,
      })
    ctx.progress('services: plugging in four kubelet nodes (two encrypted, two plain)')
    const [a, b, c, d] = [await add(true), await add(true), await add(false), await add(false)] as LabNode[]
    // MetalLB's controller must run on a real node for the LoadBalancer failover rows.
    await placeAddonsOnRealNodes(
      k,
      [a!, b!, c!, d!].map((n) => n.name),
    )
    const pods: [string, LabNode, string][] = [
      ['web-a', a!, 'web'],
      ['web-b', b!, 'web'],
      ['web-d', d!, 'plain'],
    ]
    for (const [n, node, app] of pods)
      await applyWhenAccepted(k, lab.dir, n, webPod(n, node.name, app, bulkMiB), 300_000)
    await applyWhenAccepted(k, lab.dir, 'client-a', clientPod('client-a', a!.name))
    await applyWhenAccepted(k, lab.dir, 'client-c', clientPod('client-c', c!.name))
    for (const p of ['web-a', 'web-b', 'web-d', 'client-a', 'client-c']) await podReady(k, p)
    const rate = async (client: string, server: string) => throughput(ctx, k, client, await podIp(k, server))
    rows.push(
      {
        metric: 'pod → pod across nodes, WireGuard (wireguard-go)',
        value: await rate('client-a', 'web-b'),
        unit: 'MB/s',
        note: `${bulkMiB} MiB over HTTP, kubectl exec overhead subtracted`,
      },
      {
        metric: 'pod → pod across nodes, plain routes (no encryption)',
        value: await rate('client-c', 'web-d'),
        unit: 'MB/s',
      },
    )
    rows.push(...(await failovers(ctx, lab.dir, k)))
  } catch (err) {
    ctx.fail('services', err)
  } finally {
    await lab.close()
  }
  return rows
}

async function imageSizes(): Promise<Row[]> {
  const rows: Row[] = []
  const dir = kubeImagesDir()
  for (const arch of ['amd64', 'arm64']) {
    const d = join(dir, '..', arch)
    for (const f of (await readdir(d).catch(() => [] as string[])).sort()) {
      if (!f.endsWith('.tar')) continue
      const bytes = (await stat(join(d, f))).size
      rows.push({
        metric: `image ${f.replace(/\.tar$/, '')} (${arch})`,
        value: Math.round(bytes / 1024 / 102.4) / 10,
        unit: 'MB',
        note: 'OCI archive, gzip layer',
      })
    }
  }
  return rows
}

async function podReady(k: Kubectl, pod: string): Promise<void> {
  await waitFor(
    async () => {
      const r = await k(['get', 'pod', pod, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])
      return r.stdout === 'True' ? true : `${pod} Ready=${r.stdout || 'none'}`
    },
    { timeoutMs: 300_000, intervalMs: 1000 },
  )
}

async function podIp(k: Kubectl, pod: string): Promise<string> {
  return (await k(['get', 'pod', pod, '-o', 'jsonpath={.status.podIP}'])).stdout
}

/** MB/s of a bulk HTTP fetch between pods, less the time the same exec takes for a tiny one. */
async function throughput(ctx: BenchContext, k: Kubectl, client: string, ip: string): Promise<number | null> {
  const timed = async (path: string) => {
    const t0 = performance.now()
    const get = `printf 'GET /${path} HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 60 ${ip} 8080 > /dev/null`
    const r = await k(['exec', client, '--', '/bin/sh', '-c', get])
    if (r.exitCode !== 0) throw new Error(`GET ${path}: ${r.stderr}`)
    return performance.now() - t0
  }
  // Ready pods are not yet a path between them: the nodes' pod-network passes (every 2 s)
  // add a peer once its Node has a range and a key. Measure only once a small GET gets through.
  const t0 = performance.now()
  await waitFor(
    async () =>
      timed('index.html').then(
        () => true as const,
        (err: Error) => err.message.trim(),
      ),
    { timeoutMs: 120_000, intervalMs: 1000 },
  )
  ctx.progress(
    `services: ${client} → ${ip} reachable ${Math.round(performance.now() - t0)} ms after both pods were Ready`,
  )
  await timed('bulk.bin') // warm: handshake, caches
  const small = await timed('index.html')
  const big = await timed('bulk.bin')
  const seconds = Math.max(1, big - small) / 1000
  return Math.round(((bulkMiB * 1.048576) / seconds) * 10) / 10
}

/** Unplug the node answering the LoadBalancer address, time until it answers again; plug it back. */
async function failovers(ctx: BenchContext, dir: string, k: Kubectl): Promise<Row[]> {
  await applyWhenAccepted(k, dir, 'web-lb', webService('web-lb', 'LoadBalancer'))
  let vip = ''
  await waitFor(
    async () => {
      vip = (await k(['get', 'service', 'web-lb', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']))
        .stdout
      return vip ? true : 'no address yet'
    },
    { timeoutMs: 180_000, intervalMs: 1000 },
  )
  const answer = async () => {
    let body = ''
    await waitFor(
      async () => {
        const r = await hostGet(vip, '/', 500)
        body = r.body
        return r.ok ? true : r.body
      },
      { timeoutMs: 180_000, intervalMs: 100 },
    )
    return body.trim().split(' ').pop()!
  }
  const times: number[] = []
  for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
    const answering = await answer()
    ctx.progress(`services: ${vip} answered by ${answering}; unplugging it`)
    const t0 = performance.now()
    await labUnplug(dir, answering)
    const next = await answer()
    times.push(performance.now() - t0)
    if (next === answering) throw new Error(`${vip} still answered by the unplugged ${answering}`)
    const plugged = Date.now()
    await labPlug(dir, answering)
    await backOn(k, answering, plugged)
  }
  const s = times.map((t) => Math.round(t / 100) / 10)
  return [
    {
      metric: 'LoadBalancer address: answering node unplugged → answered by another',
      value: Math.max(...s),
      unit: 's',
      goal: { max: 10 },
      note: `${s.length} failover(s): ${s.join(', ')} s (max shown); MetalLB layer 2 (memberlist), HTTP from the host side of the lab bridge`,
    },
  ]
}

/**
 * A plugged-back node is ready to take the address over once every pod on it (its web pod,
 * MetalLB's speaker) runs again: containers started after the plug, and ready. A pod's
 * status from before the unplug still says Ready (the Node was not gone long enough to be
 * marked NotReady), so readiness alone would start the next failover onto a node whose
 * kubelet is still starting its containers.
 */
async function backOn(k: Kubectl, node: string, sinceMs: number): Promise<void> {
  const sinceS = Math.floor(sinceMs / 1000) * 1000 // startedAt has whole seconds
  await waitFor(
    async () => {
      const r = await k(['get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`, '-o', 'json'])
      if (r.exitCode !== 0) return r.stderr.trim()
      const pods = (JSON.parse(r.stdout) as { items: PodStatus[] }).items
      const stale = pods.filter(
        (p) =>
          !p.status.containerStatuses?.length ||
          !p.status.containerStatuses.every(
            (c) => c.ready && Date.parse(c.state?.running?.startedAt ?? '') >= sinceS,
          ),
      )
      return pods.length > 0 && stale.length === 0
        ? true
        : `not yet running again on ${node}: ${stale.map((p) => p.metadata.name).join(', ') || 'no pods'}`
    },
    { timeoutMs: 300_000, intervalMs: 1000 },
  )
}

interface PodStatus {
  metadata: { name: string }
  status: { containerStatuses?: { ready: boolean; state?: { running?: { startedAt?: string } } }[] }
}
