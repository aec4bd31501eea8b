import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { silentLogger } from '../../agent/core/log.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { type ApplyAddonsOptions, applyAddons, describeProblem } from '../../agent/kube/addons/index.js'
import { waitFor } from '../support/etcd-lab.js'
import { KubeTestCluster } from '../support/kube-cluster.js'

// The shipped add-ons and the applier against a real API server, controller manager,
// scheduler and one kwok per node: everything applies, CoreDNS runs on the nodes, a
// broken document is named while the rest applies, and only changed files are re-applied.

const addonsDir = join(packageRoot(), 'manifests', 'addons')

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  value: "${value}"\n`

describe('add-ons applied with server-side apply', { timeout: 600_000 }, () => {
  let c: KubeTestCluster
  let tmp: string
  const opts = (extra: Partial<ApplyAddonsOptions> = {}): ApplyAddonsOptions => ({
    kubeconfigPath: c.adminKubeconfig,
    dir: addonsDir,
    log: silentLogger(),
    clock: systemClock(),
    ...extra,
  })
  const json = async (args: string[]) => {
    const r = await c.kubectl([...args, '-o', 'json'])
    assert.equal(r.exitCode, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  const exists = async (args: string[]) => (await c.kubectl(['get', ...args])).exitCode === 0

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'hc-addons-'))
    c = await KubeTestCluster.create({ block: 217 })
    await c.addNode({ name: 'pi-a', arch: 'arm64', board: 'pi4' }, 1)
    await c.addNode({ name: 'pi-b', arch: 'arm64', board: 'pi5' }, 2)
    // Both Nodes Ready before anything is scheduled: a Node its kwok has not marked Ready yet
    // is tainted not-ready, and both CoreDNS pods would then land on the other one.
    await waitFor(
      'both kwok Nodes Ready',
      120_000,
      async () => {
        const r = await c.kubectl([
          'get',
          'nodes',
          '-o',
          'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
        ])
        return r.stdout.split(' ').filter((s) => s === 'True').length === 2
      },
      500,
    )
  })
  after(async () => {
    await c?.cleanup()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  it('applies every shipped add-on; CoreDNS runs on the kwok nodes at 10.96.0.10', async (t) => {
    const report = await applyAddons(opts())
    assert.deepEqual(report.problems.map(describeProblem), [])
    assert.deepEqual(
      report.applied.map((a) => [a.file, a.reason]),
      [
        ['coredns.yaml', 'new'],
        ['local-path-storage.yaml', 'new'],
        ['metallb.yaml', 'new'],
        ['node-proxier.yaml', 'new'],
      ],
    )
    const svc = await json(['-n', 'kube-system', 'get', 'service', 'kube-dns'])
    assert.equal(svc.spec.clusterIP, '10.96.0.10')
    const sc = await json(['get', 'storageclass', 'local-path'])
    assert.equal(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class'], 'true')
    const managers = (
      await json(['-n', 'kube-system', 'get', 'deployment', 'coredns', '--show-managed-fields'])
    ).metadata.managedFields.map((f: { manager: string; operation: string }) => `${f.manager}:${f.operation}`)
    assert.ok(managers.includes('homecloud:Apply'), managers.join(', '))

    const corednsRunning = async () => {
      const pods = await json(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns'])
      const running = pods.items.filter((p: { status: { phase: string } }) => p.status.phase === 'Running')
      if (
        running.length === 2 &&
        new Set(running.map((p: { spec: { nodeName: string } }) => p.spec.nodeName)).size === 2
      )
        return true
      // Thrown, not returned: a timeout then says where the pods were stuck.
      const seen = pods.items.map(
        (p: { metadata: { name: string }; spec: { nodeName?: string }; status: { phase: string } }) =>
          `${p.metadata.name}@${p.spec.nodeName ?? 'unscheduled'}:${p.status.phase}`,
      )
      throw new Error(`CoreDNS pods: ${seen.join(', ') || 'none'}`)
    }
    // Nothing is restarted: against etcd 3.4 kwok's watches could stall for minutes and the
    // test restarted it; with 3.6 (WatchList on) a stall is a failure to look into.
    const runningStart = performance.now()
    await waitFor('CoreDNS Running on both nodes', 150_000, corednsRunning)
    t.diagnostic(
      `CoreDNS Running on both kwok nodes ${Math.round(performance.now() - runningStart)} ms after apply`,
    )
    // The pod network routes spec.podCIDR: the controller manager must have handed each node a /24.
    await waitFor('a pod CIDR on every node', 120_000, async () => {
      const nodes = await json(['get', 'nodes'])
      return nodes.items.every((n: { spec: { podCIDR?: string } }) =>
        /^10\.244\.\d+\.0\/24$/.test(n.spec.podCIDR ?? ''),
      )
    })
    // MetalLB's definitions are served (the pool the agent writes needs them).
    assert.equal(await exists(['crd', 'ipaddresspools.metallb.io']), true)
  })

  it('leaves an unchanged file alone until the resync period heals drift', async () => {
    assert.equal((await c.kubectl(['-n', 'kube-system', 'delete', 'configmap', 'coredns'])).exitCode, 0)
    const again = await applyAddons(opts())
    assert.deepEqual(again.applied, [])
    assert.deepEqual(again.unchanged, [
      'coredns.yaml',
      'local-path-storage.yaml',
      'metallb.yaml',
      'node-proxier.yaml',
    ])
    assert.equal(await exists(['-n', 'kube-system', 'configmap', 'coredns']), false, 'not re-applied')

    const healed = await applyAddons(opts({ resyncMs: 0 }))
    assert.deepEqual(
      healed.applied.map((a) => a.reason),
      ['resync', 'resync', 'resync', 'resync'],
    )
    assert.equal(await exists(['-n', 'kube-system', 'configmap', 'coredns']), true, 'healed')
  })

  it('re-applies a changed file and only that one', async () => {
    const dir = join(tmp, 'changes')
    await cp(addonsDir, dir, { recursive: true })
    await writeFile(join(dir, 'extra.yaml'), configMap('extra', 'one'))
    const o = opts({ dir, stateConfigMap: 'homecloud-addons-test-changes' })
    const first = await applyAddons(o)
    assert.equal(first.applied.length, 5)

    await writeFile(join(dir, 'extra.yaml'), configMap('extra', 'two'))
    const second = await applyAddons(o)
    assert.deepEqual(second.applied, [{ file: 'extra.yaml', reason: 'changed', objects: 1 }])
    assert.deepEqual(second.unchanged, [
      'coredns.yaml',
      'local-path-storage.yaml',
      'metallb.yaml',
      'node-proxier.yaml',
    ])
    assert.equal((await json(['get', 'configmap', 'extra'])).data.value, 'two')
  })

  it('names the file, document and field of a refused document and applies the rest', async () => {
    const dir = join(tmp, 'broken')
    await cp(join(addonsDir, 'coredns.yaml'), join(dir, 'coredns.yaml'), { recursive: true })
    await writeFile(join(dir, 'good.yaml'), configMap('good', 'yes'))
    const deployment = (await readFile(join(addonsDir, 'coredns.yaml'), 'utf8'))
      .split(/^---$/m)
      .find((d) => /kind: Deployment/.test(d))!
      .replace('coredns', 'dns-typo')
      .replace('imagePullPolicy: Never', 'imagePullPolice: Never')
    await writeFile(
      join(dir, 'broken.yaml'),
      `${configMap('before-the-typo', 'kept')}---\n${deployment.trim()}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n`,
    )
    const o = opts({ dir, stateConfigMap: 'homecloud-addons-test-broken' })
    const report = await applyAddons(o)

    assert.deepEqual(report.failed, ['broken.yaml'])
    assert.deepEqual(report.applied.map((a) => a.file).sort(), ['coredns.yaml', 'good.yaml'])
    const server = report.problems.find((p) => p.source === 'server')
    const local = report.problems.find((p) => p.source === 'local')
    assert.equal(report.problems.length, 2, report.problems.map(describeProblem).join('\n'))
    assert.equal(server?.file, 'broken.yaml')
    assert.equal(server?.index, 2)
    assert.equal(server?.source, 'server')
    assert.equal(server?.kind, 'Deployment')
    assert.match(server?.field ?? '', /^\.spec\.template\.spec\.containers\[.*\]\.imagePullPolice$/)
    assert.equal(local?.index, 3)
    assert.equal(local?.field, '.metadata.name')
    assert.equal(local?.source, 'local')

    // The good documents are there, the bad one is not, and the bad file is tried again next pass.
    assert.equal((await json(['get', 'configmap', 'good'])).data.value, 'yes')
    assert.equal((await json(['get', 'configmap', 'before-the-typo'])).data.value, 'kept')
    assert.equal(await exists(['-n', 'kube-system', 'deployment', 'dns-typo']), false)
    const retry = await applyAddons(o)
    assert.deepEqual(retry.failed, ['broken.yaml'])
    assert.deepEqual(retry.unchanged, ['coredns.yaml', 'good.yaml'])
  })

  it('refuses to start without its directory or an API server, and says why', async () => {
    await assert.rejects(
      applyAddons(opts({ dir: join(tmp, 'missing') })),
      (err) =>
        err instanceof HomecloudError && err.code === 'KUBE_ADDONS_FAILED' && /missing/.test(err.message),
    )
    const kc = JSON.parse(await readFile(c.adminKubeconfig, 'utf8'))
    kc.clusters[0].cluster.server = `https://${c.address.replace(/\.1$/, '.9')}:6443`
    const offline = join(tmp, 'offline.kubeconfig')
    await writeFile(offline, JSON.stringify(kc))
    await assert.rejects(
      applyAddons(opts({ kubeconfigPath: offline })),
      (err) =>
        err instanceof HomecloudError &&
        err.code === 'KUBE_ADDONS_FAILED' &&
        /no API server answered/.test(err.message),
    )
  })
})
