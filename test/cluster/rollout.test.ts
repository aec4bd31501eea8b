import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { UpgradeAnswer } from '../../agent/components/upgrade-routes.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { findKubePrograms } from '../../agent/kube/binaries.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf, etcdClientFor, healthyVoters } from '../support/controlplane.js'
import { startLab } from '../support/lab.js'
import { applyWhenAccepted, labKubectl } from '../support/lab-kubectl.js'
import {
  homecloud,
  labSignedRelease,
  publishTo,
  stampedImage,
  upgradeStatus,
  type WatchReport,
  watchCluster,
} from '../support/rollout.js'
import { missingOn, startWriteLoad, type WriteLoad } from '../support/write-load.js'

// A/B upgrades in a lab of real agents (issue 14): 3 ARM voters and 3 x86 workers, each
// booting through the lab firmware from two slots, Kubernetes on kwok. Three real builds
// of this code stamped 1, 2 and a bad 3 (its agent exits at start). One lab for all.

const V1 = '0.1.0-rollout.1'
const V2 = '0.1.0-rollout.2'
const V3 = '0.1.0-rollout.3-bad'
const ROLLOUT = {
  gateTimeoutMs: 180_000,
  leaderStableMs: 2000,
  nodeGoneMs: 60_000,
  everyMs: 1000,
  resendMs: 5000,
}

describe('A/B rollout in a lab', { timeout: 3_600_000 }, () => {
  let lab: LabFile
  let etcd: EtcdClient
  let load: WriteLoad
  let watch: ReturnType<typeof watchCluster>
  let report: WatchReport
  let v2: { dir: string; id: string }
  let v3: { dir: string; id: string }
  const say = (l: string) => process.stderr.write(`  … ${l}\n`)

  it('six nodes move from 1 to 2, one at a time, and a bad 3 comes back by itself', async (t) => {
    say('building three releases of this code (cached by inputs)')
    const [i1, i2, i3] = [
      await stampedImage(V1, { progress: say }),
      await stampedImage(V2, { progress: say }),
      await stampedImage(V3, { testExitAtStart: true, progress: say }),
    ]
    lab = await startLab({
      boards: 'pi5,pi5,pi5,x86,x86,x86',
      kube: true,
      slots: true,
      imageDir: i1,
      agentConfig: { ...CP_CONFIG, rollout: ROLLOUT },
      timeoutMs: 180_000,
      progress: say,
    })
    v2 = await labSignedRelease(lab, i2, 'v2')
    v3 = await labSignedRelease(lab, i3, 'v3')
    await t.test('every node booted release 1 from slot a, committed', bootedOnV1)
    await t.test('v2 is published and every node holds it', () => publishAndHold(v2))
    await t.test('a Deployment with a budget runs; a watcher and a write load start', startWatching)
    await t.test(
      'the rollout starts; the coordinator is unplugged mid-rollout and the next one resumes',
      coordinatorUnplugged,
    )
    await t.test('every node ends on 2, committed; 2 is current', everyNodeOnV2)
    await t.test('never two nodes cordoned, no budget broken, no acknowledged write lost', safety)
    await t.test(
      'a bad 3: the canary comes back on 2 by itself, the rollout halts, nobody else changed',
      badRelease,
    )
  })

  const voters = () => lab.nodes.filter((n) => n.board === 'pi5')

  async function nodeSlots(n: LabNode) {
    return JSON.parse(await readFile(join(n.stateDir, '..', 'slots', 'boot.json'), 'utf8')) as {
      good: 'a' | 'b'
      booted: 'a' | 'b'
      slots: Record<'a' | 'b', { version: string; releaseId: string } | null>
      lastFallback: { version: string; reason: string } | null
    }
  }

  async function bootedOnV1() {
    for (const n of lab.nodes) {
      const s = await nodeSlots(n)
      assert.equal(s.booted, 'a', n.name)
      assert.equal(s.slots.a?.version, V1, n.name)
    }
    const versions = (await (await fetch(`${nodeUrl(lab.nodes[0]!)}api/v1/cluster`)).json()) as {
      members: { name: string; version: string }[]
    }
    for (const m of versions.members) assert.equal(m.version, V1, `${m.name} announces ${V1}`)
  }

  async function publishAndHold(r: { dir: string; id: string }) {
    await publishTo(lab, r.dir, lab.nodes[3]!.name)
    await waitNodesHold(lab, r.id, { timeoutMs: 300_000, progress: say })
  }

  async function startWatching() {
    const worker = lab.nodes.find((n) => n.board === 'x86')!
    const { kubeconfig, kubectl } = await labKubectl(lab.dir, worker.name)
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
    const { kubectl: bin } = await findKubePrograms(['kubectl'])
    watch = watchCluster(bin, kubeconfig, { pdb: 'web' })
    etcd = await etcdClientFor(lab, voters())
    load = startWriteLoad([etcd], '/rollout-test/')
  }

  async function coordinatorUnplugged() {
    const start = await homecloud(lab, ['upgrade', 'start', V2, '--canary', '1'])
    assert.equal(start.exitCode, 0, start.stderr)
    // The canary is a worker: unplug the coordinator (a voter) while it is in progress.
    let coordinator: LabNode | undefined
    await waitFor(
      async () => {
        const s = await upgradeStatus(lab)
        if (typeof s === 'string') return s
        const cur = s.rollout?.current
        if (!cur || cur.name.startsWith('pi5') || cur.step === 'drain') return `at ${cur?.name}:${cur?.step}`
        const cp = await controlPlaneOf(voters()[0]!)
        coordinator = lab.nodes.find((n) => n.name === cp?.coordinator)
        return !!coordinator || 'who coordinates?'
      },
      { timeoutMs: 600_000, progress: say },
    )
    say(`unplugging the coordinator ${coordinator!.name}`)
    await labUnplug(lab.dir, coordinator!.name)
    // Another voter coordinates and finishes the canary.
    await waitFor(
      async () => {
        const s = await upgradeStatus(lab)
        if (typeof s === 'string') return s
        const done = Object.values(s.rollout?.nodes ?? {}).filter((o) => o.state === 'done')
        return done.length >= 1 || `waiting: ${s.rollout?.waiting}`
      },
      { timeoutMs: 600_000, progress: say },
    )
    await labPlug(lab.dir, coordinator!.name)
  }

  async function everyNodeOnV2() {
    let last: UpgradeAnswer | string = ''
    await waitFor(
      async () => {
        last = await upgradeStatus(lab)
        if (typeof last === 'string') return last
        return last.rollout?.phase === 'completed' || `${last.rollout?.phase}: ${last.rollout?.waiting}`
      },
      { timeoutMs: 2_400_000, progress: say, intervalMs: 3000 },
    )
    const s = last as unknown as UpgradeAnswer
    for (const n of s.nodes) {
      assert.equal(n.version, V2, `${n.name} runs ${V2}`)
      assert.equal(n.slots?.committed, true, `${n.name} committed`)
      assert.equal(n.slots?.bootedRelease?.version, V2)
    }
    assert.ok(Object.values(s.rollout?.nodes ?? {}).every((o) => o.state === 'done'))
    const rel = (await (await fetch(`${nodeUrl(lab.nodes[0]!)}api/v1/releases`)).json()) as {
      current: Record<string, { version: string }>
    }
    assert.equal(rel.current.amd64?.version, V2, 'the rollout made 2 current')
  }

  async function safety() {
    report = await watch.stop()
    await load.stop()
    say(
      `watcher: ${JSON.stringify(report)}; writes acknowledged ${load.acked.length}, failed ${load.failed()}`,
    )
    assert.ok(report.events > 0)
    assert.equal(report.cordonedMax, 1, 'at most one node cordoned at a time')
    assert.equal(report.budgetViolations, 0, 'the budget was never broken')
    assert.equal(await healthyVoters(etcd, voters()), true)
    const acked = new Set(load.acked)
    for (const v of voters())
      assert.equal(await missingOn(etcd, v.address, '/rollout-test/', acked), 0, v.name)
  }

  async function badRelease() {
    await publishAndHold(v3)
    const before = new Map(
      await Promise.all(lab.nodes.map(async (n) => [n.name, await nodeSlots(n)] as const)),
    )
    const start = await homecloud(lab, ['upgrade', 'start', V3])
    assert.equal(start.exitCode, 0, start.stderr)
    let s: UpgradeAnswer | string = ''
    await waitFor(
      async () => {
        s = await upgradeStatus(lab)
        if (typeof s === 'string') return s
        return (
          (s.rollout?.phase === 'halted' && s.rollout.current === null) ||
          `${s.rollout?.phase}: ${s.rollout?.waiting}`
        )
      },
      { timeoutMs: 900_000, progress: say, intervalMs: 3000 },
    )
    const r = (s as unknown as UpgradeAnswer).rollout!
    assert.match(r.halt?.reason ?? '', /came back on 0\.1\.0-rollout\.2 by itself/)
    assert.deepEqual(
      r.bad.map((b) => b.version),
      [V3],
    )
    const failed = Object.entries(r.nodes).filter(([, o]) => o.state === 'failed')
    assert.equal(failed.length, 1)
    const canary = lab.nodes.find((n) => n.name === failed[0]![1].name)!
    assert.equal(canary.board, 'x86', 'the canary is a worker')
    const cs = await nodeSlots(canary)
    assert.equal(cs.slots[cs.booted]?.version, V2)
    assert.equal(cs.lastFallback?.reason, 'tries-exhausted')
    for (const n of lab.nodes.filter((x) => x !== canary))
      assert.deepEqual(await nodeSlots(n), before.get(n.name), `${n.name} untouched`)
    const status = await homecloud(lab, ['upgrade', 'status'])
    assert.match(status.stdout, /halted: .*came back on 0\.1\.0-rollout\.2 by itself/)
    const page = await (await fetch(nodeUrl(lab.nodes[4]!))).text()
    assert.match(page, /came back on 0\.1\.0-rollout\.2 by itself/)
    const again = await homecloud(lab, ['upgrade', 'start', V3])
    assert.notEqual(again.exitCode, 0)
    assert.match(again.stderr, /marked bad/)
  }
})
