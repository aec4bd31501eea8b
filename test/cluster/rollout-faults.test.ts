import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { silentLogger } from '../../agent/core/log.js'
import { acquireLock, breakLock, type HeldLock, readLock } from '../../control/lock/cluster-lock.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'
import { labPlug, labUnplug, nodeUrl } from '../../lab/launcher.js'
import { waitNodesHold } from '../../lab/netboot/release.js'
import { nodeDir } from '../../lab/node-start.js'
import { waitFor } from '../../lab/wait.js'
import { CP_CONFIG, controlPlaneOf, etcdClientFor } from '../support/controlplane.js'
import { realClock } from '../support/etcd-lab.js'
import { startLab } from '../support/lab.js'
import {
  adminForAll,
  assertBootedOn,
  homecloud,
  LAB_ROLLOUT,
  labNodeSlots,
  labSignedRelease,
  publishTo,
  stampedImage,
  timedSay,
  upgradeStatus,
  waitRollout,
} from '../support/rollout.js'

// A rollout's faults in one lab of 3 ARM voters and an x86 worker (issue 14), one after
// the other (each used to start a lab of its own):
// 1. A bad release: its agent exits at start (a real build of this code with
//    --test-exit-at-start). The canary worker tries it, runs out of tries, and the lab
//    firmware boots its last good slot again by itself; the rollout halts, the release is
//    marked bad cluster-wide, and no other node changed.
// 2. The coordinator runs the rollout of a good release; unplugged (SIGKILL, no warning)
//    mid-rollout, the next coordinator reads the rollout's record from etcd and carries on;
//    the unplugged node is upgraded once it is back. Then a former coordinator that lost its
//    seat but lives on: a process keeps renewing a `rollout:` lock for the node in progress
//    (CI once waited 900 s on one); the coordinator takes it over and the rollout still ends.

/** Swaps the coordinator's lock for the node in progress for one this process keeps alive. */
async function plantFormerCoordinatorsLock(lab: LabFile, admin: string, voters: readonly LabNode[]) {
  const etcd = await etcdClientFor(lab, voters)
  let ghost: HeldLock | undefined
  await waitFor(
    async () => {
      const s = await upgradeStatus(lab, admin)
      if (typeof s === 'string') return s
      const cur = s.rollout?.current
      // Not while the coordinator drains or uncordons under its lock: a step between orders.
      if (!cur || !['install', 'try', 'gate', 'commit'].includes(cur.step))
        return `at ${cur?.name}:${cur?.step}`
      const seen = await readLock(etcd)
      if (!seen?.record?.holder.startsWith('rollout:') || seen.record.node !== cur.name)
        return `lock: ${seen?.record?.holder ?? 'free'}`
      if (!(await breakLock(etcd, seen.token))) return 'the lock changed'
      try {
        ghost = await acquireLock(
          { holder: 'rollout:former-coordinator', operation: 'upgrade', node: cur.name },
          { etcd, clock: realClock, log: silentLogger() },
        )
      } catch (err) {
        return (err as Error).message // the coordinator took it again first: once more
      }
      return true
    },
    { timeoutMs: 600_000, progress: (l) => process.stderr.write(`  … planting: ${l}\n`) },
  )
  return { ghost: ghost as HeldLock, etcd }
}

const V1 = '0.1.0-rollout.1'
const V2 = '0.1.0-rollout.2'
const V3 = '0.1.0-rollout.3-bad'

describe('A/B rollout in a lab: a bad release, then the coordinator unplugged', {
  timeout: 1_800_000,
}, () => {
  const say = timedSay()

  it('one lab: the bad canary comes back by itself; the unplugged coordinator is followed', async (t) => {
    const i1 = await stampedImage(V1, { progress: say })
    const i2 = await stampedImage(V2, { progress: say })
    const i3 = await stampedImage(V3, { testExitAtStart: true, progress: say })
    const lab = await startLab({
      boards: 'pi5,pi5,pi5,x86',
      kube: true,
      slots: true,
      imageDir: i1,
      agentConfig: { ...CP_CONFIG, rollout: LAB_ROLLOUT },
      timeoutMs: 240_000,
      progress: say,
    })
    await assertBootedOn(lab, V1)
    const voters = lab.nodes.filter((n) => n.board === 'pi5')
    const admin = await adminForAll(lab, voters)
    // One after the other. Published together (08:10 run) the first stalled at 10-15 of 20
    // pieces on every other node: it stopped being wanted when the second was read (fixed
    // since: two candidates, control/releases wantedIds; releases.test publishes at once).
    // Spreading them together here is left until it is run so under the heavy lock.
    for (const name of ['v3', 'v2'] as const) {
      const r = await labSignedRelease(lab, name === 'v3' ? i3 : i2, name)
      await publishTo(lab, r.dir, lab.nodes[0]!.name)
      await waitNodesHold(lab, r.id, { timeoutMs: 300_000, progress: say })
    }
    await t.test(
      'a bad release: the canary comes back on 1 by itself, the rollout halts, nobody else changed',
      () => badCanary(lab),
    )
    await t.test('the coordinator unplugged mid-rollout: the next one resumes, every node ends on 2', () =>
      coordinatorUnplugged(lab, voters, admin),
    )
  })
})

async function badCanary(lab: LabFile): Promise<void> {
  const say = timedSay()
  const before = new Map(
    await Promise.all(lab.nodes.map(async (n) => [n.name, await labNodeSlots(n)] as const)),
  )
  const start = await homecloud(lab, ['upgrade', 'start', V3, '--canary', '1'])
  assert.equal(start.exitCode, 0, start.stderr)
  const s = await waitRollout(lab, (s) => s.rollout?.phase === 'halted' && s.rollout.current === null, {
    timeoutMs: 600_000,
    progress: say,
  })
  const r = s.rollout!
  assert.match(r.halt?.reason ?? '', /came back on 0\.1\.0-rollout\.1 by itself/)
  assert.deepEqual(
    r.bad.map((b) => b.version),
    [V3],
  )
  const failed = Object.values(r.nodes).filter((o) => o.state === 'failed')
  assert.equal(failed.length, 1)
  const canary = lab.nodes.find((n) => n.name === failed[0]!.name)!
  assert.equal(canary.board, 'x86', 'the canary is a worker')
  const cs = await labNodeSlots(canary)
  assert.equal(cs.slots[cs.booted]?.version, V1)
  assert.equal(cs.lastFallback?.reason, 'tries-exhausted')
  for (const n of lab.nodes.filter((x) => x !== canary))
    assert.deepEqual(await labNodeSlots(n), before.get(n.name), `${n.name} untouched`)

  const status = await homecloud(lab, ['upgrade', 'status'])
  assert.match(status.stdout, /halted: .*came back on 0\.1\.0-rollout\.1 by itself/)
  // Every node's status page says so, a worker's too (it asks a voter).
  const worker = lab.nodes.find((n) => n.board === 'x86')!
  await waitFor(
    async () => {
      const page = await (await fetch(nodeUrl(worker))).text()
      return /came back on 0\.1\.0-rollout\.1 by itself/.test(page) || 'the page does not say why yet'
    },
    { timeoutMs: 30_000 },
  )
  const again = await homecloud(lab, ['upgrade', 'start', V3])
  assert.notEqual(again.exitCode, 0)
  assert.match(again.stderr, /marked bad/)
}

async function coordinatorUnplugged(lab: LabFile, voters: readonly LabNode[], admin: string): Promise<void> {
  const say = timedSay()
  const start = await homecloud(lab, ['upgrade', 'start', V2, '--canary', '1'])
  assert.equal(start.exitCode, 0, start.stderr)
  // The canary is the worker: unplug the coordinator (a voter) once the canary is past its drain.
  let coordinator: LabNode | undefined
  await waitFor(
    async () => {
      const s = await upgradeStatus(lab, admin)
      if (typeof s === 'string') return s
      const cur = s.rollout?.current
      if (!cur || cur.name.startsWith('pi5') || cur.step === 'drain') return `at ${cur?.name}:${cur?.step}`
      const cp = await controlPlaneOf(voters[0]!)
      coordinator = lab.nodes.find((n) => n.name === cp?.coordinator)
      return !!coordinator || 'who coordinates?'
    },
    { timeoutMs: 300_000, progress: say },
  )
  say(`unplugging the coordinator ${coordinator!.name}`)
  await labUnplug(lab.dir, coordinator!.name)
  await waitRollout(lab, (s) => Object.values(s.rollout?.nodes ?? {}).some((o) => o.state === 'done'), {
    timeoutMs: 600_000,
    progress: say,
    admin,
  })
  await labPlug(lab.dir, coordinator!.name)
  const { ghost, etcd } = await plantFormerCoordinatorsLock(lab, admin, voters)
  say(`a former coordinator's lock (token ${ghost.token}) holds ${ghost.record.node}`)
  const s = await waitRollout(lab, (s) => s.rollout?.phase === 'completed', {
    timeoutMs: 900_000,
    progress: say,
    admin,
  })
  for (const n of s.nodes) {
    assert.equal(n.version, V2, `${n.name} runs ${V2}`)
    assert.equal(n.slots?.committed, true, `${n.name} committed`)
  }
  assert.ok(Object.values(s.rollout?.nodes ?? {}).every((o) => o.state === 'done'))
  assert.equal(ghost.isValid(), false, "the coordinator took the former one's lock over (its lease revoked)")
  const logs = await Promise.all(
    lab.nodes.map((n) => readFile(join(nodeDir(lab, n.name), 'agent.log'), 'utf8').catch(() => '')),
  )
  assert.ok(
    logs.some((l) => l.includes('took over the lock a previous holder kept')),
    "a coordinator's log says it took the lock over",
  )
  await ghost.release()
  etcd.close()
}
