// Kubernetes on top of one etcd release, for the etcd benchmark's before/after: a lab
// of agents running the control plane (kwok per node), a 20-replica Deployment from
// apply → 20 ready replicas (`kubectl wait`, watch-based: no polling load), and the RSS
// of each voter's etcd and of the coordinator agent once the API servers use it.
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { etcdFiles } from '../../agent/etcd/spec.js'
import type { LabNode } from '../../lab/lab-file.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf } from '../support/controlplane.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import { benchLab, memStatus } from './lab.js'
import { max, median } from './stats.js'
import type { BenchContext, Row } from './types.js'

const BOARDS = 'pi5,rock5b,pi4-ssd,x86'
const REPLICAS = 20
const SETTLE_MS = 15_000

/** RSS (MB) of the etcd a lab node's agent runs, from its pid file; null if none runs. */
export async function etcdRssMB(node: LabNode): Promise<number | null> {
  const pid = Number((await readFile(etcdFiles(node.stateDir).pidFile, 'utf8').catch(() => '')).trim())
  const mem = pid > 0 ? await memStatus(pid) : null
  return mem ? Math.round(mem.rssKB / 102.4) / 10 : null
}

export async function agentRssMB(node: LabNode | undefined): Promise<number | null> {
  const mem = node?.pid ? await memStatus(node.pid) : null
  return mem ? Math.round(mem.rssKB / 102.4) / 10 : null
}

/** The voters and coordinator, once three voters serve. */
export async function settledVoters(nodes: readonly LabNode[], timeoutMs = 300_000) {
  let out: { voters: LabNode[]; coordinator: LabNode | undefined } | undefined
  await waitFor(
    async () => {
      for (const n of nodes) {
        const cp = await controlPlaneOf(n).catch(() => null)
        if (cp?.source === 'etcd' && cp.quorum && cp.voters.length === 3 && cp.coordinator) {
          out = {
            voters: nodes.filter((x) => cp.voters.includes(x.name)),
            coordinator: nodes.find((x) => x.name === cp.coordinator),
          }
          return true
        }
      }
      return 'fewer than 3 voters'
    },
    { timeoutMs, intervalMs: 500 },
  )
  return out!
}

export async function kubeOnEtcd(ctx: BenchContext, release: string): Promise<Row[]> {
  const rows: Row[] = []
  const lab = await benchLab(ctx, `etcd-kube-${release}`, {
    boards: BOARDS,
    kube: true,
    agentConfig: CP_CONFIG,
  })
  try {
    const worker = lab.lab.nodes.find((n) => n.board === 'x86')!
    const { kubectl } = await labKubectl(lab.dir, worker.name, {
      file: 'bench.kubeconfig',
      requestTimeout: '5s',
    })
    ctx.progress(`etcd ${release}: waiting for three voters and the API`)
    const { voters, coordinator } = await settledVoters(lab.lab.nodes)
    await waitFor(
      async () => ((await kubectl(['get', '--raw', '/readyz'])).exitCode === 0 ? true : 'API not ready'),
      {
        timeoutMs: 300_000,
        intervalMs: 500,
      },
    )
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench', namespace: 'default' },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: 'bench' } },
        template: {
          metadata: { labels: { app: 'bench' } },
          spec: { containers: [{ name: 'c', image: 'registry.invalid/bench:1' }] },
        },
      },
    }
    ctx.progress(`etcd ${release}: ${REPLICAS} replicas`)
    await applyWhenAccepted(kubectl, lab.dir, 'bench-deployment', deployment)
    const applied = performance.now()
    const waited = await kubectl([
      'wait',
      '--for=jsonpath={.status.readyReplicas}=20',
      'deployment/bench',
      '--timeout=300s',
      '--request-timeout=0',
    ])
    rows.push({
      metric: `Deployment applied → ${REPLICAS} replicas ready (kwok nodes)`,
      value: waited.exitCode === 0 ? Math.round(performance.now() - applied) : null,
      unit: 'ms',
      note: waited.exitCode === 0 ? 'kubectl wait (a watch)' : waited.stderr.trim().slice(0, 120),
    })
    ctx.progress(`etcd ${release}: settling ${SETTLE_MS / 1000} s before reading memory`)
    await new Promise((r) => setTimeout(r, SETTLE_MS))
    const etcdRss = await Promise.all(voters.map(etcdRssMB))
    rows.push(
      {
        metric: 'etcd RSS with Kubernetes on it, median of 3 voters',
        value: median(etcdRss),
        unit: 'MB',
        note: `max ${max(etcdRss)} MB; API servers, controllers and ${REPLICAS} pods`,
      },
      {
        metric: 'agent RSS with Kubernetes: the coordinator',
        value: await agentRssMB(coordinator),
        unit: 'MB',
      },
    )
  } catch (err) {
    ctx.fail(`etcd-kube ${release}`, err)
  } finally {
    await lab.close()
  }
  return rows
}
