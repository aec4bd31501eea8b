// A/B rollout of a 6-node lab (3 voters + 3 workers, Kubernetes on kwok, each node booting
// through the lab firmware from two slots): release 1 → 2 of this code, one node at a time.
// Measures the whole rollout, each node's share (drain → install → try → reboot → gate →
// commit → uncordon), the longest gap in answers of the Kubernetes API through a worker's
// balancer, and the longest time a Deployment with a budget had fewer ready pods than the
// budget allows (goal: never). The same run as test/cluster/rollout.test.ts, timed.
import { findKubePrograms } from '../../agent/kube/binaries.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG } from '../support/controlplane.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import {
  homecloud,
  LAB_ROLLOUT,
  labSignedRelease,
  publishTo,
  stampedImage,
  waitRollout,
  watchCluster,
} from '../support/rollout.js'
import { benchLab } from './lab.js'
import type { BenchContext, Row } from './types.js'

export const name = 'rollout'

const V1 = '0.1.0-rollout.1'
const V2 = '0.1.0-rollout.2'

export async function run(ctx: BenchContext): Promise<Row[]> {
  const i1 = await stampedImage(V1, { progress: ctx.progress })
  const i2 = await stampedImage(V2, { progress: ctx.progress })
  const b = await benchLab(ctx, 'rollout', {
    boards: 'pi5,pi5,pi5,x86,x86,x86',
    kube: true,
    slots: true,
    imageDir: i1,
    agentConfig: { ...CP_CONFIG, rollout: LAB_ROLLOUT },
  })
  try {
    const lab = b.lab
    const v2 = await labSignedRelease(lab, i2, 'v2')
    const t0 = Date.now()
    await publishTo(lab, v2.dir, lab.nodes[3]!.name)
    await waitNodesHold(lab, v2.id, { timeoutMs: 300_000, progress: ctx.progress })
    const spreadMs = Date.now() - t0
    const worker = lab.nodes.find((n) => n.board === 'x86')!
    const { kubeconfig, kubectl } = await labKubectl(lab.dir, worker.name)
    await applyWhenAccepted(kubectl, lab.dir, 'web', webDeployment)
    await applyWhenAccepted(kubectl, lab.dir, 'web-pdb', webBudget)
    await waitFor(
      async () => {
        const r = await kubectl(['get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}'])
        return r.stdout === '4' || `web ready: ${r.stdout || r.stderr}`
      },
      { timeoutMs: 180_000 },
    )
    const { kubectl: bin } = await findKubePrograms(['kubectl'])
    const watch = watchCluster(bin, kubeconfig, { pdb: 'web' })
    const start = Date.now()
    const s = await homecloud(lab, ['upgrade', 'start', V2, '--canary', '1'])
    if (s.exitCode !== 0) throw new Error(`upgrade start: ${s.stderr}`)
    const done = await waitRollout(lab, (a) => a.rollout?.phase === 'completed', {
      timeoutMs: 1_800_000,
      progress: ctx.progress,
    })
    const totalMs = Date.now() - start
    const report = await watch.stop()
    const finished = Object.values(done.rollout?.nodes ?? {})
      .map((o) => o.atMs)
      .sort((a, b) => a - b)
    const began = done.rollout?.startedAtMs ?? finished[0] ?? 0
    const perNode = finished.map((t, i) => t - (i === 0 ? began : finished[i - 1]!))
    return [
      { metric: 'rollout: release 2 spread to 6 nodes (77 MB each)', value: spreadMs / 1000, unit: 's' },
      { metric: 'rollout: 6 nodes 1 → 2, whole', value: totalMs / 1000, unit: 's' },
      {
        metric: 'rollout: per node, mean',
        value: perNode.length ? perNode.reduce((a, b) => a + b, 0) / perNode.length / 1000 : null,
        unit: 's',
        note: 'drain, install, try, reboot, gate, commit, uncordon',
      },
      {
        metric: 'rollout: per node, slowest',
        value: perNode.length ? Math.max(...perNode) / 1000 : null,
        unit: 's',
      },
      {
        metric: 'rollout: longest Kubernetes API gap (worker balancer)',
        value: report.apiGapMsMax / 1000,
        unit: 's',
      },
      {
        metric: 'rollout: most nodes cordoned at once',
        value: report.cordonedMax,
        unit: 'nodes',
        goal: { max: 1 },
      },
      {
        metric: 'rollout: longest time below the budget',
        value: report.belowBudgetMsMax / 1000,
        unit: 's',
        goal: { max: 0 },
      },
    ]
  } finally {
    await b.close()
  }
}

const webDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 4,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
    },
  },
}

const webBudget = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'web', namespace: 'default' },
  spec: { minAvailable: 3, selector: { matchLabels: { app: 'web' } } },
}
