import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { silentLogger } from '../../agent/core/log.js'
import { kubeApiFromKubeconfig } from '../../control/kubeapi/client.js'
import type { KubeApi } from '../../control/kubeapi/types.js'
import { OUT_OF_SERVICE_TAINT } from '../../control/nodes/decide.js'
import { type MeshNodeState, reconcileNodes } from '../../control/nodes/reconcile.js'
import { realClock, waitFor } from '../support/etcd-lab.js'
import { KubeTestCluster } from '../support/kube-cluster.js'

// Unplugging a worker (killing its kwok, its stand-in kubelet) with homecloud's
// dead-node handling driven the way the coordinator drives it: one `reconcileNodes`
// per tick, the mesh's verdict supplied by the test. After the Node is NotReady and
// the grace has passed, the out-of-service taint goes on and its pods run elsewhere;
// plugged back, the Node is Ready, the taint comes off and it takes pods again.

const workers = ['w1', 'w2', 'w3']
const policy = { nodeGraceMs: 5000, nodeDeleteAfterMs: 3_600_000 }

interface NodeJson {
  spec: { taints?: { key: string; effect: string }[]; unschedulable?: boolean }
  status: { conditions?: { type: string; status: string }[] }
  metadata: { annotations?: Record<string, string> }
}

describe('unplug and plug back (out-of-service handling)', { timeout: 900_000 }, () => {
  let c: KubeTestCluster
  let kube: KubeApi
  const mesh = new Map<string, MeshNodeState>()
  let quorum = true
  let ticker: NodeJS.Timeout | undefined
  const tick = () =>
    reconcileNodes({
      kube,
      clock: realClock,
      log: silentLogger(),
      policy,
      isLeader: () => true,
      quorum,
      mesh: (k) => mesh.get(k),
    })

  const node = async (name: string) =>
    JSON.parse((await c.kubectl(['get', 'node', name, '-o', 'json'])).stdout) as NodeJson
  const ready = (n: NodeJson) =>
    n.status.conditions?.some((k) => k.type === 'Ready' && k.status === 'True') === true
  const tainted = (n: NodeJson) => (n.spec.taints ?? []).some((t) => t.key === OUT_OF_SERVICE_TAINT)
  const pods = async (selector: string) =>
    (
      JSON.parse((await c.kubectl(['get', 'pods', '-l', selector, '-o', 'json'])).stdout) as {
        items: {
          spec: { nodeName?: string }
          status: { phase?: string }
          metadata: { deletionTimestamp?: string }
        }[]
      }
    ).items

  before(async () => {
    // A shorter node-monitor grace than the default 50 s: NotReady sooner, same mechanism.
    c = await KubeTestCluster.create({
      block: 207,
      controllerManagerArgs: ['--node-monitor-grace-period=30s'],
    })
    for (const [i, w] of workers.entries()) await c.addNode({ name: w }, i + 1)
    kube = await kubeApiFromKubeconfig(c.adminKubeconfig)
    for (const w of workers) mesh.set(w, { state: 'alive', deadSinceMs: null })
    await waitFor('three Ready workers', 120_000, async () => {
      for (const w of workers) if (!ready(await node(w))) return false
      return true
    })
  })
  after(async () => {
    if (ticker) clearInterval(ticker)
    await c?.cleanup()
  })

  it('taints a dead NotReady node after the grace (never in a minority), and its pods run elsewhere', async () => {
    const created = await c.kubectl([
      'create',
      'deployment',
      'app',
      '--image=registry.invalid/app',
      '--replicas=3',
    ])
    assert.equal(created.exitCode, 0, created.stderr)
    await waitFor(
      '3 app pods Running',
      120_000,
      async () => (await pods('app=app')).filter((p) => p.status.phase === 'Running').length === 3,
    )
    const victim = (await pods('app=app'))[0]!.spec.nodeName!
    assert.deepEqual((await tick()).actions, [], 'a healthy cluster needs nothing')

    c.kill(`kwok-${victim}`)
    mesh.set(victim, { state: 'dead', deadSinceMs: realClock.nowMs() })
    // Dead by the mesh but still Ready in Kubernetes: both witnesses are needed.
    assert.deepEqual((await tick()).actions, [])
    await waitFor(`${victim} NotReady`, 180_000, async () => !ready(await node(victim)), 1000)

    // Whatever happens here, the next test must not inherit a minority.
    quorum = false
    try {
      assert.deepEqual(
        await tick(),
        { actions: [], applied: [], failed: [] },
        'without quorum nothing happens',
      )
      assert.equal(tainted(await node(victim)), false)
    } finally {
      quorum = true
    }

    ticker = setInterval(() => void tick().catch(() => {}), 1000)
    await waitFor('the out-of-service taint', 60_000, async () => tainted(await node(victim)), 500)
    const n = await node(victim)
    assert.equal(n.metadata.annotations?.['homecloud.dev/out-of-service-by'], 'homecloud')
    assert.ok(n.spec.taints?.some((t) => t.key === OUT_OF_SERVICE_TAINT && t.effect === 'NoExecute'))
    await waitFor(
      '3 app pods Running elsewhere',
      180_000,
      async () => {
        const ps = await pods('app=app')
        return ps.length === 3 && ps.every((p) => p.status.phase === 'Running' && p.spec.nodeName !== victim)
      },
      1000,
    )

    // Plug it back in: kwok heartbeats again, the mesh sees it alive.
    c.startKwok(victim, workers.indexOf(victim) + 1)
    mesh.set(victim, { state: 'alive', deadSinceMs: null })
    await waitFor(
      `${victim} Ready, untainted`,
      180_000,
      async () => {
        const back = await node(victim)
        return ready(back) && !tainted(back)
      },
      1000,
    )
    assert.equal((await node(victim)).metadata.annotations?.['homecloud.dev/out-of-service-by'], undefined)
    // Schedulable: a pod that may only run there runs there.
    const pinned = await c.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'pinned', namespace: 'default', labels: { app: 'pinned' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': victim },
          containers: [{ name: 'c', image: 'registry.invalid/x' }],
        },
      }),
    )
    assert.equal(pinned.exitCode, 0, pinned.stderr)
    await waitFor(
      'the pinned pod Running on the returned node',
      120_000,
      async () => {
        const ps = await pods('app=pinned')
        return ps[0]?.status.phase === 'Running' && ps[0].spec.nodeName === victim
      },
      1000,
    )
  })

  it('a taint someone else applied stays, and a Node gone past the delete time is deleted', async () => {
    const other = workers[2]!
    const t = await c.kubectl(['taint', 'node', other, `${OUT_OF_SERVICE_TAINT}=nodeshutdown:NoExecute`])
    assert.equal(t.exitCode, 0, t.stderr)
    await tick()
    assert.equal(tainted(await node(other)), true, 'not ours to remove')
    assert.equal((await c.kubectl(['taint', 'node', other, `${OUT_OF_SERVICE_TAINT}-`])).exitCode, 0)

    // The delete step on a real Node: dead (by the mesh) and NotReady for longer than the delete time.
    if (ticker) clearInterval(ticker)
    ticker = undefined
    const gone = workers.find((w) => w !== other)!
    c.kill(`kwok-${gone}`)
    mesh.set(gone, { state: 'dead', deadSinceMs: realClock.nowMs() - policy.nodeDeleteAfterMs })
    await waitFor(`${gone} NotReady`, 180_000, async () => !ready(await node(gone)), 1000)
    const r = await tick()
    assert.deepEqual(
      r.applied.map((a) => [a.kind, a.node]),
      [['delete', gone]],
      `one pass: ${JSON.stringify(r)}`,
    )
    const after = await c.kubectl(['get', 'node', gone])
    assert.notEqual(after.exitCode, 0, 'the Node object is gone')
    assert.deepEqual((await tick()).applied, [], 'idempotent: nothing left to do')
  })
})
