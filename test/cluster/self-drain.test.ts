import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { SHUTDOWN_DRAIN_FILE } from '../../agent/components/self-drain.js'
import { labPlug } from '../../lab/launcher.js'
import { isLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import { homecloud } from '../support/rollout.js'

// Drains outside upgrades (issue 14): `homecloud drain|undrain --api` through a voter's
// 7443 API with the admin certificate, and a node stopped on purpose (SIGTERM, as an init
// system stops it) that drains itself before it leaves and undrains itself when it is back.
// Real agents, Kubernetes on kwok, the cluster lock in etcd.

describe('drains through the agent API and on shutdown', { timeout: 600_000 }, () => {
  const say = (l: string) => process.stderr.write(`  … ${l}\n`)

  it('drain/undrain over 7443; SIGTERM drains the node first, back it undrains itself', async (t) => {
    const lab = await startLab({
      boards: 'pi5,pi5,pi5,x86',
      kube: true,
      agentConfig: { ...CP_CONFIG, shutdownDrain: { enabled: true, timeoutMs: 60_000 } },
      timeoutMs: 180_000,
      progress: say,
    })
    const worker = lab.nodes.find((n) => n.board === 'x86')!
    const voters = lab.nodes.filter((n) => n.board === 'pi5')
    const { kubectl } = await labKubectl(lab.dir, lab.nodes[0]!.name)
    const node = async () => {
      const r = await kubectl(['get', 'node', worker.name, '-o', 'json'])
      if (r.exitCode !== 0) return null
      return JSON.parse(r.stdout) as {
        spec: { unschedulable?: boolean }
        metadata: { annotations?: Record<string, string> }
      }
    }
    const cordoned = async () => (await node())?.spec.unschedulable === true
    // The cluster lock is taken only with every Node Ready and every voter healthy.
    await waitFor(
      async () => {
        const r = await kubectl([
          'get',
          'nodes',
          '-o',
          'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
        ])
        const ready = r.stdout.split(' ').filter((x) => x === 'True').length
        return ready === lab.nodes.length || `${ready} of ${lab.nodes.length} Nodes Ready`
      },
      { timeoutMs: 180_000, progress: say },
    )
    const etcd = await etcdClientFor(lab, voters)
    await waitFor(async () => (await healthyVoters(etcd, voters)) === true || 'voters not all healthy', {
      timeoutMs: 120_000,
    })
    etcd.close()
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

    await t.test(
      'homecloud drain --api: cordoned and drained by homecloud; undrain --api uncordons',
      async () => {
        const d = await homecloud(lab, ['drain', worker.name, '--api', '--timeout', '2m'])
        assert.equal(d.exitCode, 0, d.stderr)
        assert.match(d.stdout, /: drained/)
        const n = await node()
        assert.equal(n?.spec.unschedulable, true)
        assert.equal(n?.metadata.annotations?.['homecloud.dev/drain-status'], 'drained')
        const u = await homecloud(lab, ['undrain', worker.name, '--api'])
        assert.equal(u.exitCode, 0, u.stderr)
        assert.match(u.stdout, /: uncordoned/)
        assert.equal(await cordoned(), false)
        const unknown = await homecloud(lab, ['drain', 'no-such-node', '--api'])
        assert.notEqual(unknown.exitCode, 0)
        assert.match(unknown.stderr, /no node no-such-node/)
      },
    )

    await t.test('SIGTERM: the node drains itself before it exits', async () => {
      process.kill(worker.pid!, 'SIGTERM')
      await waitFor(async () => !(await isLabProcess(worker.pid!, lab.dir)) || 'still stopping', {
        timeoutMs: 120_000,
      })
      const n = await node()
      assert.equal(n?.spec.unschedulable, true, 'cordoned before it left')
      assert.equal(n?.metadata.annotations?.['homecloud.dev/drain-status'], 'drained')
      assert.ok(existsSync(join(worker.stateDir, SHUTDOWN_DRAIN_FILE)), 'it remembers it drained itself')
    })

    await t.test('back again, it undrains itself', async () => {
      await labPlug(lab.dir, worker.name)
      await waitFor(async () => !(await cordoned()) || 'still cordoned', {
        timeoutMs: 180_000,
        progress: say,
      })
      await waitFor(
        async () => !existsSync(join(worker.stateDir, SHUTDOWN_DRAIN_FILE)) || 'marker still there',
        {
          timeoutMs: 30_000,
        },
      )
    })
  })
})
