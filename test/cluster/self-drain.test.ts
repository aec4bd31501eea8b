import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { SHUTDOWN_DRAIN_FILE } from '../../agent/components/self-drain.js'
import { pkiPaths } from '../../agent/pki/store.js'
import { labAdd, labPlug } from '../../lab/launcher.js'
import { isLabProcess } from '../../lab/processes.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import { homecloud } from '../support/rollout.js'
import { startShutdown } from '../support/shutdown.js'

// Drains outside upgrades (issue 14): `homecloud drain|undrain --api` through a voter's
// 7443 API with the admin certificate, and a node stopped on purpose (SIGTERM, as an init
// system stops it, or `homecloud shutdown`) that drains itself before it leaves — within
// its time, a PodDisruptionBudget blocking it or not — and undrains itself when it is
// back. Real agents, Kubernetes on kwok, the cluster lock in etcd. shutdownDrain is on by
// default for a node running Kubernetes: no override here.

describe('drains through the agent API and on shutdown', { timeout: 600_000 }, () => {
  const say = (l: string) => process.stderr.write(`  … ${l}\n`)

  it('drain/undrain over 7443; SIGTERM drains the node first, back it undrains itself', async (t) => {
    const lab = await startLab({
      boards: 'pi5,pi5,pi5,x86',
      kube: true,
      // shutdownDrain is on by default for a node running Kubernetes: no override here.
      agentConfig: CP_CONFIG,
      timeoutMs: 180_000,
      progress: say,
    })
    const worker = lab.nodes.find((n) => n.board === 'x86')!
    // The worker's agent process now (a new one each time it is plugged back in).
    let pid = worker.pid!
    const plugBack = async () => {
      pid = (await labPlug(lab.dir, worker.name)).pid!
    }
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
      'homecloud drain --api: cordoned and drained by homecloud; undrain (no kubeconfig: the API) uncordons',
      async () => {
        const d = await homecloud(lab, ['drain', worker.name, '--api', '--timeout', '2m'])
        assert.equal(d.exitCode, 0, d.stderr)
        assert.match(d.stdout, /: drained/)
        const n = await node()
        assert.equal(n?.spec.unschedulable, true)
        assert.equal(n?.metadata.annotations?.['homecloud.dev/drain-status'], 'drained')
        // No kubeconfig here: the same API, without --api.
        const u = await startShutdown(lab, ['undrain', worker.name], { KUBECONFIG: join(lab.dir, 'none') })
          .done
        assert.equal(u.exitCode, 0, u.stderr)
        assert.match(u.stdout, /no kubeconfig at .*none: through a voter's 7443 API/)
        assert.match(u.stdout, /: uncordoned/)
        assert.equal(await cordoned(), false)
        const unknown = await homecloud(lab, ['drain', 'no-such-node', '--api'])
        assert.notEqual(unknown.exitCode, 0)
        assert.match(unknown.stderr, /no node no-such-node/)
      },
    )

    await t.test('SIGTERM: the node drains itself before it exits', async () => {
      process.kill(pid, 'SIGTERM')
      await waitFor(async () => !(await isLabProcess(pid, lab.dir)) || 'still stopping', {
        timeoutMs: 120_000,
      })
      const n = await node()
      assert.equal(n?.spec.unschedulable, true, 'cordoned before it left')
      assert.equal(n?.metadata.annotations?.['homecloud.dev/drain-status'], 'drained')
      // Why, on the Node: a rollout waits for such a node to undrain itself (control/rollout/order.ts).
      assert.equal(n?.metadata.annotations?.['homecloud.dev/drain-reason'], 'shutdown')
      assert.ok(existsSync(join(worker.stateDir, SHUTDOWN_DRAIN_FILE)), 'it remembers it drained itself')
    })

    await t.test('back again, it undrains itself', async () => {
      await plugBack()
      await waitFor(async () => !(await cordoned()) || 'still cordoned', {
        timeoutMs: 180_000,
        progress: say,
      })
      assert.equal((await node())?.metadata.annotations?.['homecloud.dev/drain-reason'], undefined)
      await waitFor(
        async () => !existsSync(join(worker.stateDir, SHUTDOWN_DRAIN_FILE)) || 'marker still there',
        {
          timeoutMs: 30_000,
        },
      )
    })

    await t.test('homecloud shutdown refuses bad input and loses nothing', async () => {
      const unknown = await homecloud(lab, ['shutdown', '--node', 'no-such-node'])
      assert.notEqual(unknown.exitCode, 0)
      assert.match(unknown.stderr, /no member "no-such-node"/)
      const here = await homecloud(lab, ['shutdown'])
      assert.notEqual(here.exitCode, 0)
      assert.match(here.stderr, /is not a member[\s\S]*--node NAME/)
      const badTime = await homecloud(lab, ['shutdown', '--node', worker.name, '--timeout', 'soon'])
      assert.match(badTime.stderr, /--timeout soon: not a duration/)
      // A lab node without boot slots has no machine to power off: refused before any drain.
      const off = await homecloud(lab, ['shutdown', '--node', worker.name, '--poweroff'])
      assert.notEqual(off.exitCode, 0)
      assert.match(off.stderr, /no machine of its own to power off[\s\S]*leave out --poweroff/)
      // A node's own certificate in place of the admin's: refused.
      const pki = pkiPaths(worker.stateDir)
      const adminCfg = JSON.parse(await readFile(join(lab.dir, 'admin.json'), 'utf8'))
      const asNode = join(lab.dir, 'as-node.json')
      await writeFile(asNode, JSON.stringify({ ...adminCfg, cert: pki.nodeCert, key: pki.nodeKey }))
      const forged = await homecloud(lab, ['shutdown', '--node', worker.name], asNode)
      assert.notEqual(forged.exitCode, 0)
      assert.match(forged.stderr, /needs the admin certificate/)
      assert.equal(await isLabProcess(pid, lab.dir), true, 'still running')
      assert.equal(await cordoned(), false, 'not cordoned by a refused shutdown')
    })

    // Before any shutdown: the lab waits for every node it started, a stopped one included.
    await t.test('a node that runs no Kubernetes: nothing to drain, refused', async () => {
      const bare = await labAdd(lab.dir, 'x86', {
        agentConfig: { ...CP_CONFIG, kube: { enabled: false } },
        timeoutMs: 120_000,
        progress: say,
      })
      const r = await homecloud(lab, ['shutdown', '--node', bare.name])
      assert.notEqual(r.exitCode, 0)
      assert.match(r.stderr, /does not run Kubernetes[\s\S]*next:/)
      assert.equal(await isLabProcess(bare.pid!, lab.dir), true, 'still running')
    })

    await t.test(
      'homecloud shutdown with a PDB blocking: bounded; a second one is refused; back, it undrains',
      async () => {
        // One pod pinned to the worker that its budget does not let go.
        await applyWhenAccepted(kubectl, lab.dir, 'pinned', pinned(worker.name))
        await applyWhenAccepted(kubectl, lab.dir, 'pinned-pdb', pinnedBudget)
        // Running on the worker and counted healthy: a Pending pod may be evicted whatever the budget says.
        await waitFor(
          async () => {
            const pod = await kubectl([
              'get',
              'pods',
              '-l',
              'app=pinned',
              '-o',
              'jsonpath={.items[*].spec.nodeName}/{.items[*].status.phase}',
            ])
            const pdb = await kubectl(['get', 'pdb', 'pinned', '-o', 'jsonpath={.status.currentHealthy}'])
            const seen = `${pod.stdout.trim()} healthy=${pdb.stdout.trim()}`
            return seen === `${worker.name}/Running healthy=1` || `pinned pod: ${seen}`
          },
          { timeoutMs: 60_000 },
        )
        const first = startShutdown(lab, ['shutdown', '--node', worker.name, '--timeout', '12s'])
        await first.saw(/shutting down/)
        const second = await homecloud(lab, ['shutdown', '--node', worker.name])
        assert.notEqual(second.exitCode, 0)
        assert.match(second.stderr, /already shutting down/)
        const r = await first.done
        assert.equal(r.exitCode, 0, r.stderr)
        assert.match(r.stdout, /did not finish .*leaving anyway/)
        for (const l of r.stdout.trimEnd().split('\n')) say(l)
        assert.match(r.stdout, /stopped after \d+ s\n.*warning: it stopped without a drain/)
        await waitFor(async () => !(await isLabProcess(pid, lab.dir)) || 'still stopping', {
          timeoutMs: 120_000,
        })
        assert.equal(await cordoned(), true, 'left cordoned while it is away')
        assert.ok(existsSync(join(worker.stateDir, SHUTDOWN_DRAIN_FILE)))
        await kubectl(['delete', 'pdb', 'pinned', '--wait=false'])
        await plugBack()
        await waitFor(async () => !(await cordoned()) || 'still cordoned', {
          timeoutMs: 180_000,
          progress: say,
        })
      },
    )

    await t.test('homecloud shutdown: drained through the same lock, then the agent stops', async () => {
      const r = await startShutdown(lab, ['shutdown', '--node', worker.name]).done
      assert.equal(r.exitCode, 0, r.stderr)
      assert.match(r.stdout, /shutting down: draining .* first/)
      for (const l of r.stdout.trimEnd().split('\n')) say(l)
      assert.match(r.stdout, /: stopped \(drained\) after \d+ s/)
      await waitFor(async () => !(await isLabProcess(pid, lab.dir)) || 'still stopping', {
        timeoutMs: 120_000,
      })
      const n = await node()
      assert.equal(n?.spec.unschedulable, true)
      assert.equal(n?.metadata.annotations?.['homecloud.dev/drain-status'], 'drained')
      assert.ok(existsSync(join(worker.stateDir, SHUTDOWN_DRAIN_FILE)))
    })
  })
})

const pinned = (node: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'pinned', namespace: 'default' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'pinned' } },
    template: {
      metadata: { labels: { app: 'pinned' } },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': node },
        // Evicted, it is gone at once (kwok honours the default 30 s grace).
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'pinned', image: 'registry.invalid/pinned:1' }],
      },
    },
  },
})

const pinnedBudget = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'pinned', namespace: 'default' },
  spec: { minAvailable: 1, selector: { matchLabels: { app: 'pinned' } } },
}
