import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import type { LabFile } from '../../lab/lab-file.js'
import { nodeUrl } from '../../lab/launcher.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import {
  assertBootedOn,
  homecloud,
  LAB_ROLLOUT,
  labSignedRelease,
  publishTo,
  stampedImage,
  timedSay,
  waitRollout,
  watchCluster,
} from '../support/rollout.js'
import { missingOn, startWriteLoad, type WriteLoad } from '../support/write-load.js'

// A/B upgrades in a lab of real agents (issue 14): 3 ARM voters and an x86 worker, each
// booting through the lab firmware from two slots, Kubernetes on kwok, two real builds of
// this code stamped 1 and 2. The whole cluster moves from 1 to 2, one node at a time,
// while a watcher samples the Nodes, a budget and the API, and a client writes to etcd.
// The bad release and the coordinator's loss share a lab of their own (rollout-faults.test.ts).

const V1 = '0.1.0-rollout.1'
const V2 = '0.1.0-rollout.2'

describe('A/B rollout in a lab: 1 → 2', { timeout: 1_800_000 }, () => {
  let lab: LabFile
  const say = timedSay()

  it('four nodes move from 1 to 2, one at a time, nothing lost', async (t) => {
    say('building two releases of this code (cached by inputs)')
    const i1 = await stampedImage(V1, { progress: say })
    const i2 = await stampedImage(V2, { progress: say })
    lab = await startLab({
      // Three voters (each moved with etcd and the control plane on it) and a worker: every
      // kind of step; more workers would only repeat the worker's (~50 s each here).
      boards: 'pi5,pi5,pi5,x86',
      kube: true,
      slots: true,
      imageDir: i1,
      agentConfig: { ...CP_CONFIG, rollout: LAB_ROLLOUT },
      timeoutMs: 240_000,
      progress: say,
    })
    const voters = lab.nodes.filter((n) => n.board === 'pi5')
    const v2 = await labSignedRelease(lab, i2, 'v2')
    await t.test('every node booted release 1 from slot a', () => assertBootedOn(lab, V1))
    await t.test('2 is published and every node holds it', async () => {
      await publishTo(lab, v2.dir, lab.nodes[3]!.name)
      await waitNodesHold(lab, v2.id, { timeoutMs: 300_000, progress: say })
    })
    const worker = lab.nodes.find((n) => n.board === 'x86')!
    const { kubeconfig, kubectl } = await labKubectl(lab.dir, worker.name)
    await t.test('a Deployment with a budget runs', async () => {
      await applyWhenAccepted(kubectl, lab.dir, 'web', {
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
      })
      await applyWhenAccepted(kubectl, lab.dir, 'web-pdb', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'web', namespace: 'default' },
        spec: { minAvailable: 3, selector: { matchLabels: { app: 'web' } } },
      })
      await waitFor(
        async () => {
          const r = await kubectl(['get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}'])
          return r.stdout === '4' || `web ready: ${r.stdout || r.stderr}`
        },
        { timeoutMs: 180_000 },
      )
    })
    const { kubectl: bin } = await findKubePrograms(['kubectl'])
    const watch = watchCluster(bin, kubeconfig, { pdb: 'web' })
    const etcd: EtcdClient = await etcdClientFor(lab, voters)
    const load: WriteLoad = startWriteLoad([etcd], '/rollout-test/')
    const t0 = Date.now()
    await t.test('the rollout runs to the end: every node on 2, committed; 2 is current', async () => {
      const start = await homecloud(lab, ['upgrade', 'start', V2, '--canary', '1'])
      assert.equal(start.exitCode, 0, start.stderr)
      const s = await waitRollout(lab, (s) => s.rollout?.phase === 'completed', {
        timeoutMs: 1_200_000,
        progress: say,
      })
      say(`rollout of ${lab.nodes.length} nodes: ${Math.round((Date.now() - t0) / 1000)} s`)
      for (const n of s.nodes) {
        assert.equal(n.version, V2, `${n.name} runs ${V2}`)
        assert.equal(n.slots?.committed, true, `${n.name} committed`)
        assert.equal(n.slots?.bootedRelease?.version, V2)
      }
      assert.ok(Object.values(s.rollout?.nodes ?? {}).every((o) => o.state === 'done'))
      // The coordinator moves `current` as it completes; every node reads the records on its
      // own period (2 s), so a node asked the moment the rollout reads "completed" may not
      // have read it yet: wait for every node to say so (a bound, not a timing goal).
      await waitFor(
        async () => {
          const behind: string[] = []
          for (const n of lab.nodes) {
            const rel = (await (await fetch(`${nodeUrl(n)}api/v1/releases`)).json()) as {
              current: Record<string, { version: string }>
            }
            if (rel.current.amd64?.version !== V2) behind.push(`${n.name}: ${rel.current.amd64?.version}`)
          }
          return behind.length === 0 || `the rollout made 2 current; not yet on ${behind.join(', ')}`
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      )
    })
    await t.test('never two nodes cordoned, no budget broken, no acknowledged write lost', async () => {
      const report = await watch.stop()
      await load.stop()
      say(
        `watcher: ${JSON.stringify(report)}; writes acknowledged ${load.acked.length}, failed ${load.failed()}`,
      )
      assert.ok(report.events > 0)
      // Two checks, each with its own message: a rollout that never ran cordons nobody (0).
      assert.ok(report.cordonedMax <= 1, `at most one node cordoned at a time (saw ${report.cordonedMax})`)
      assert.ok(report.cordonedMax >= 1, 'the watcher saw the rollout cordon its nodes (saw none)')
      assert.equal(report.budgetViolations, 0, 'the budget was never broken')
      assert.equal(await healthyVoters(etcd, voters), true)
      const acked = new Set(load.acked)
      for (const v of voters)
        assert.equal(await missingOn(etcd, v.address, '/rollout-test/', acked), 0, v.name)
    })
  })
})
