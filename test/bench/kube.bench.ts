// Kubernetes on homecloud's terms: the upstream control plane as agent/kube configures
// it (real etcd, kube-apiserver, controller manager, scheduler, one kwok per node):
// API server start → /readyz, each component's RSS, a 20-replica Deployment on 4 kwok
// nodes, the add-ons (first apply, unchanged re-apply), and the pinned build's time.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { execa } from 'execa'
import { systemClock } from '../../agent/core/clock.js'
import { silentLogger } from '../../agent/core/log.js'
import { packageRoot } from '../../agent/core/package-root.js'
import { applyAddons } from '../../agent/kube/addons/index.js'
import { waitFor } from '../support/etcd-lab.js'
import { KubeTestCluster } from '../support/kube-cluster.js'
import type { BenchContext, Row } from './types.js'

export const name = 'kube'

const BLOCK = 218
const NODES = 4
const REPLICAS = 20

/** VmRSS of a process in MiB, from /proc/<pid>/status. */
async function rssMiB(pid: number | undefined): Promise<number | null> {
  if (!pid) return null
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
    return kb ? Number(kb) / 1024 : null
  } catch {
    return null
  }
}

/** What loading @kubernetes/client-node costs a Node process (the agent pays it only when applying add-ons). */
async function clientNodeImport(): Promise<{ rssMiB: number; ms: number } | null> {
  const script = `const a=process.memoryUsage().rss;const t=performance.now();await import('@kubernetes/client-node');
console.log(JSON.stringify({rss:process.memoryUsage().rss-a,ms:performance.now()-t}))`
  const r = await execa(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageRoot(),
    reject: false,
  })
  if (r.exitCode !== 0) return null
  const v = JSON.parse(r.stdout) as { rss: number; ms: number }
  return { rssMiB: v.rss / 2 ** 20, ms: v.ms }
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const settleMs = ctx.quick ? 10_000 : 30_000

  ctx.progress(
    'building nothing: checking the pinned Kubernetes build is cached (images/kubernetes/build.sh)',
  )
  const buildScript = join(packageRoot(), 'images', 'kubernetes', 'build.sh')
  const b0 = performance.now()
  const build = await execa(buildScript, [], { reject: false })
  const cachedBuildMs = performance.now() - b0
  if (build.exitCode !== 0) ctx.fail('images/kubernetes/build.sh', new Error(build.stderr.slice(-500)))
  rows.push(
    {
      metric: 'Kubernetes build, cold, amd64 (recorded in docs/kubernetes-build.md, not measured)',
      value: 653,
      unit: 's',
      note: 'six binaries from the Go module proxy with an empty Go build cache, 2 shared cores; arm64 after amd64: 995 s',
    },
    {
      metric: 'Kubernetes build, cached (build.sh with the cache warm)',
      value: build.exitCode === 0 ? cachedBuildMs : null,
      unit: 'ms',
      note: 'checks six stamp lines and prints the bin directory',
    },
  )

  ctx.progress('starting etcd + kube-apiserver + controller manager + scheduler')
  const c = await KubeTestCluster.create({ block: BLOCK })
  const unregister = ctx.onCleanup(() => c.cleanup())
  try {
    rows.push({
      metric: 'kube-apiserver process start → /readyz ok',
      value: c.apiserverStartToReadyMs,
      unit: 'ms',
      note: 'against a running one-member etcd; kubectl polls /readyz every 50 ms',
    })

    ctx.progress(`registering ${NODES} kwok nodes`)
    for (let i = 1; i <= NODES; i++) await c.addNode({ name: `bench-${i}`, arch: 'arm64', board: 'pi4' }, i)
    await waitFor(`${NODES} Ready nodes`, 180_000, async () => {
      const r = await c.kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
      ])
      return r.stdout.split(' ').filter((s) => s === 'True').length === NODES
    })

    ctx.progress(`${REPLICAS}-replica Deployment`)
    const d0 = performance.now()
    const created = await c.kubectl([
      'create',
      'deployment',
      'bench',
      '--image=registry.invalid/bench:1',
      `--replicas=${REPLICAS}`,
    ])
    if (created.exitCode !== 0) throw new Error(created.stderr)
    let deployMs: number | null = null
    try {
      await waitFor(
        `${REPLICAS} Running pods`,
        300_000,
        async () => {
          const r = await c.kubectl([
            'get',
            'pods',
            '-l',
            'app=bench',
            '-o',
            'jsonpath={.items[*].status.phase}',
          ])
          return r.stdout.split(' ').filter((p) => p === 'Running').length === REPLICAS
        },
        200,
      )
      deployMs = performance.now() - d0
    } catch (err) {
      ctx.fail('Deployment', err)
    }
    rows.push({
      metric: `${REPLICAS}-replica Deployment created → all Running on ${NODES} kwok nodes`,
      value: deployMs,
      unit: 'ms',
      note: 'controller manager + scheduler + kwok; kubectl polls every 200 ms',
    })

    ctx.progress('applying the add-ons')
    const opts = {
      kubeconfigPath: c.adminKubeconfig,
      dir: join(packageRoot(), 'manifests', 'addons'),
      log: silentLogger(),
      clock: systemClock(),
    }
    const a0 = performance.now()
    const first = await applyAddons(opts)
    const firstCallMs = performance.now() - a0
    const second = await applyAddons(opts)
    if (first.problems.length > 0) ctx.fail('add-ons', new Error(JSON.stringify(first.problems)))
    rows.push(
      {
        metric: 'add-ons: first apply (3 files, server-side apply)',
        value: first.durationMs,
        unit: 'ms',
        note: `${first.objectsApplied} objects; ${Math.round(firstCallMs)} ms including loading @kubernetes/client-node`,
      },
      {
        metric: 'add-ons: unchanged re-apply (hash check only)',
        value: second.durationMs,
        unit: 'ms',
        note: `${second.unchanged.length} files unchanged, ${second.applied.length} applied`,
      },
    )
    const imp = await clientNodeImport()
    rows.push({
      metric: 'loading @kubernetes/client-node: RSS added',
      value: imp?.rssMiB ?? null,
      unit: 'MiB',
      note: imp
        ? `import takes ${Math.round(imp.ms)} ms; the agent loads it lazily, on the first add-on apply`
        : 'import failed',
    })

    ctx.progress(`letting the control plane settle for ${settleMs / 1000} s before reading RSS`)
    await new Promise((r) => setTimeout(r, settleMs))
    for (const key of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok-bench-1']) {
      rows.push({
        metric: `RSS after settling: ${key === 'kwok-bench-1' ? 'one kwok (one node)' : key}`,
        value: await rssMiB(c.pid(key)),
        unit: 'MiB',
        note: `VmRSS from /proc; ${NODES} nodes, the ${REPLICAS}-replica Deployment and the add-ons' pods`,
      })
    }
  } finally {
    unregister()
    await c.cleanup()
  }
  return rows
}
