// Drain and unplug: how long `drain` takes for N pods on one node (cordon → every pod
// evicted and gone, and → all Running elsewhere), and how long after a worker is
// unplugged all of its pods Running elsewhere are, with homecloud's out-of-service
// handling and with Kubernetes' default behaviour (taint-based eviction after the
// default 300 s NoExecute toleration), on the same real control plane with kwok nodes.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { silentLogger } from '../../agent/core/log.js'
import { drainNode } from '../../control/drain/execute.js'
import { kubeApiFromKubeconfig } from '../../control/kubeapi/client.js'
import { acquireLock } from '../../control/lock/cluster-lock.js'
import { type MeshNodeState, reconcileNodes } from '../../control/nodes/reconcile.js'
import { realClock, waitFor } from '../support/etcd-lab.js'
import { KubeTestCluster } from '../support/kube-cluster.js'
import type { BenchContext, Row } from './types.js'

export const name = 'drain'

/** Shorter than the default 50 s so NotReady comes sooner; both unplug runs share it. */
const NODE_MONITOR_GRACE_S = 20
const HOMECLOUD_GRACE_MS = 5000
const DEFAULT_TOLERATION_S = 300
const WORKERS = ['w1', 'w2', 'w3', 'w4']

type PodItem = {
  metadata: { name: string; deletionTimestamp?: string }
  spec: { nodeName?: string }
  status: { phase?: string }
}

export async function run(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const push = (r: Row) => {
    rows.push(r)
    ctx.progress(`${r.metric}: ${r.value ?? '—'} ${r.unit}${r.note ? ` (${r.note})` : ''}`)
  }
  ctx.progress('starting etcd + kube-apiserver + controller manager + scheduler + 4 kwok workers')
  const c = await KubeTestCluster.create({
    block: 208,
    controllerManagerArgs: [`--node-monitor-grace-period=${NODE_MONITOR_GRACE_S}s`],
  })
  const unregister = ctx.onCleanup(() => c.cleanup())
  try {
    for (const [i, w] of WORKERS.entries()) await c.addNode({ name: w }, i + 1)
    const kube = await kubeApiFromKubeconfig(c.adminKubeconfig)
    const etcd = c.etcd.client([c.etcd.members.get(1)!.clientUrl])
    const log = silentLogger()
    const pods = async (sel: string): Promise<PodItem[]> =>
      (JSON.parse((await c.kubectl(['get', 'pods', '-l', sel, '-o', 'json'])).stdout) as { items: PodItem[] })
        .items
    const runningElsewhere = async (sel: string, n: number, away: string) => {
      const live = (await pods(sel)).filter(
        (p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running',
      )
      return live.length === n && live.every((p) => p.spec.nodeName !== away)
    }
    const kubectlOk = async (args: string[], input?: string) => {
      const r = await c.kubectl(args, input)
      if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
    }
    await waitFor('4 Ready workers', 180_000, async () => {
      const r = await c.kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
      ])
      return r.stdout.split(' ').filter((s) => s === 'True').length === 4
    })

    // ── drain N pods off one node ──────────────────────────────────────────────
    for (const n of ctx.quick ? [10] : [10, 40]) {
      const app = `d${n}`
      ctx.progress(`drain: ${n} pods on w1`)
      for (const w of WORKERS.slice(1)) await kubectlOk(['cordon', w])
      await kubectlOk(['create', 'deployment', app, '--image=registry.invalid/x', `--replicas=${n}`])
      await waitFor(
        `${n} pods Running on w1`,
        300_000,
        async () => {
          const ps = await pods(`app=${app}`)
          return ps.filter((p) => p.status.phase === 'Running' && p.spec.nodeName === 'w1').length === n
        },
        500,
      )
      for (const w of WORKERS.slice(1)) await kubectlOk(['uncordon', w])
      const t0 = performance.now()
      const r = await drainNode(
        { node: 'w1', dryRun: false, force: false, timeoutMs: 600_000, onTimeout: 'give-up' },
        {
          kube,
          lock: (operation, node) =>
            acquireLock({ holder: 'bench', operation, node }, { etcd, clock: realClock, log }),
          clock: realClock,
          progress: () => {},
        },
      )
      const drained = performance.now() - t0
      await waitFor('all Running elsewhere', 300_000, () => runningElsewhere(`app=${app}`, n, 'w1'), 250)
      const elsewhere = performance.now() - t0
      push({
        metric: `drain ${n} pods: cordon → all evicted and gone`,
        value: Math.round(drained),
        unit: 'ms',
        note: `${r.evicted} evicted`,
      })
      push({
        metric: `drain ${n} pods: cordon → all Running elsewhere`,
        value: Math.round(elsewhere),
        unit: 'ms',
      })
      await kubectlOk(['delete', 'deployment', app, '--wait=true'])
      await kubectlOk(['uncordon', 'w1'])
    }

    // ── unplug: homecloud vs Kubernetes' default ────────────────────────────────
    await kubectlOk(['create', 'deployment', 'u', '--image=registry.invalid/x', '--replicas=8'])
    await waitFor(
      '8 pods Running',
      300_000,
      async () => (await pods('app=u')).filter((p) => p.status.phase === 'Running').length === 8,
      500,
    )
    const victimOf = async (not: string[]) =>
      (await pods('app=u')).map((p) => p.spec.nodeName!).find((w) => w && !not.includes(w))!

    const a = await victimOf([])
    ctx.progress(`unplug ${a} with homecloud's out-of-service handling (grace ${HOMECLOUD_GRACE_MS} ms)`)
    const mesh = new Map<string, MeshNodeState>(
      WORKERS.map((w) => [w, { state: 'alive', deadSinceMs: null }]),
    )
    const ticker = setInterval(
      () =>
        void reconcileNodes({
          kube,
          clock: realClock,
          log,
          policy: { nodeGraceMs: HOMECLOUD_GRACE_MS, nodeDeleteAfterMs: 3_600_000 },
          isLeader: () => true,
          quorum: true,
          mesh: (k) => mesh.get(k),
        }).catch(() => {}),
      1000,
    )
    try {
      const t0 = performance.now()
      c.kill(`kwok-${a}`)
      // The mesh notices a dead node in ~3 s (mesh benchmarks); the test plays the mesh.
      setTimeout(() => mesh.set(a, { state: 'dead', deadSinceMs: realClock.nowMs() }), 3000)
      await waitFor(`${a}'s pods Running elsewhere`, 600_000, () => runningElsewhere('app=u', 8, a), 250)
      push({
        metric: 'unplug → all its pods Running elsewhere (homecloud out-of-service)',
        value: Math.round(performance.now() - t0),
        unit: 'ms',
        goal: { max: NODE_MONITOR_GRACE_S * 1000 + HOMECLOUD_GRACE_MS + 15_000 },
        note: `node-monitor-grace ${NODE_MONITOR_GRACE_S} s + homecloud grace ${HOMECLOUD_GRACE_MS / 1000} s`,
      })
    } finally {
      clearInterval(ticker)
    }

    // Plug it back in so the default run has only one Node down (with more than two
    // NotReady the controller manager stops evicting at all in a cluster this small).
    c.startKwok(a, WORKERS.indexOf(a) + 1)
    await waitFor(`${a} Ready again`, 180_000, async () => {
      const r = await c.kubectl([
        'get',
        'node',
        a,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ])
      return r.stdout === 'True'
    })
    const b = await victimOf([a])
    if (ctx.quick) {
      push({
        metric: 'unplug → all its pods Running elsewhere (Kubernetes default)',
        value: null,
        unit: 'ms',
        note: `not measured with --quick: bounded below by node-monitor-grace + the ${DEFAULT_TOLERATION_S} s default toleration`,
      })
    } else {
      ctx.progress(
        `unplug ${b} with homecloud's handling off (Kubernetes default; takes > ${DEFAULT_TOLERATION_S} s)`,
      )
      const boundMs = (NODE_MONITOR_GRACE_S + DEFAULT_TOLERATION_S + 120) * 1000
      const t0 = performance.now()
      c.kill(`kwok-${b}`)
      try {
        await waitFor(`${b}'s pods Running elsewhere`, boundMs, () => runningElsewhere('app=u', 8, b), 1000)
        push({
          metric: 'unplug → all its pods Running elsewhere (Kubernetes default)',
          value: Math.round(performance.now() - t0),
          unit: 'ms',
          note: `node-monitor-grace ${NODE_MONITOR_GRACE_S} s + default ${DEFAULT_TOLERATION_S} s toleration`,
        })
      } catch {
        // With more than 2 Nodes NotReady and at least 55 % of a zone, the node lifecycle
        // controller stops taint-based eviction in clusters of up to 50 nodes.
        const cm = await readFile(join(c.paths.logDir, 'kube-controller-manager.log'), 'utf8').catch(() => '')
        const disrupted = /PartialDisruption|master disruption/.test(cm)
        push({
          metric: 'unplug → all its pods Running elsewhere (Kubernetes default)',
          value: null,
          unit: 'ms',
          note: `not within ${boundMs / 1000} s${disrupted ? '; the controller manager went into disruption mode and stopped evicting' : ''}`,
        })
      }
    }
  } finally {
    unregister()
    await c.cleanup()
  }
  return rows
}
