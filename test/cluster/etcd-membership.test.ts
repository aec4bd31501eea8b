import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { EtcdLab, type LabMember, sleep, waitFor } from '../support/etcd-lab.js'
import { startWriteLoad } from '../support/write-load.js'

// Three boards run etcd: one founder, two members joined as learners and promoted;
// then a voter dies (SIGKILL), is removed, and a new board takes its place, all
// under a continuous write load. No acknowledged write may be lost.

const prefix = '/test/acked/'
/** Longer than etcd's HealthInterval (5 s) after the last join. */
const steadyMs = 6000

describe('etcd membership: form 3 voters, replace a dead one under load', { timeout: 180_000 }, () => {
  let lab: EtcdLab
  let load: ReturnType<typeof startWriteLoad> | undefined

  before(async () => {
    lab = await EtcdLab.create({ block: 201 })
  })
  after(async () => {
    await load?.stop()
    await lab?.cleanup()
  })

  it('forms, loses a voter, replaces it, and keeps every acknowledged write', async (t) => {
    // Certificates first, so the timings below measure etcd only.
    for (const n of [1, 2, 3, 4]) await lab.member(n)

    const formStart = performance.now()
    const m1 = await lab.found(1)
    const admin = lab.client([m1.clientUrl])
    const j2 = await lab.join(2, admin)
    const j3 = await lab.join(3, admin)
    const m2 = j2.member
    const m3 = j3.member
    await lab.waitHealthy([m1.clientUrl, m2.clientUrl, m3.clientUrl])
    const formationMs = performance.now() - formStart

    const formed = await admin.memberList()
    assert.deepEqual(
      formed.members
        .filter((m) => !m.isLearner)
        .map((m) => m.name)
        .sort(),
      ['n1', 'n2', 'n3'],
    )
    assert.equal(formed.members.filter((m) => m.isLearner).length, 0)
    assert.equal(typeof formed.members[0]!.id, 'bigint')

    // Each writer starts on a different member, so the victim has writes in flight when it dies.
    const urls = [m1.clientUrl, m2.clientUrl, m3.clientUrl]
    const writes = startWriteLoad(
      urls.map((_, i) => lab.client([...urls.slice(i), ...urls.slice(0, i)])),
      prefix,
      20,
    )
    load = writes
    // A steady cluster: etcd (strict reconfig check) refuses member add until every voter
    // has been connected for 5 s, so a failure right after a promotion replaces ~5 s slower.
    await sleep(steadyMs)
    await waitFor('some acknowledged writes', 10_000, () => writes.acked.length >= 100)

    // The dead voter: a follower (leader loss is the failover test's subject).
    const statuses = await Promise.all([m1, m2, m3].map((m) => admin.status(m.clientUrl)))
    const leaderId = statuses[0]!.leaderId
    const idOf = (m: LabMember) => statuses.find((s) => s.endpoint === m.clientUrl)!.memberId
    const victim = [m2, m3].find((m) => idOf(m) !== leaderId) ?? m2
    const victimId = idOf(victim)
    const survivors = [m1, m2, m3].filter((m) => m !== victim)
    await victim.proc!.kill()
    const ackedAtKill = writes.acked.length

    const replaceStart = performance.now()
    // A member change waits for the survivors to agree; on a loaded machine that can take more than the default 5 s.
    const ops = lab.client(
      survivors.map((m) => m.clientUrl),
      undefined,
      30_000,
    )
    assert.deepEqual(await ops.memberRemove(victimId), { removed: true })
    assert.deepEqual(await ops.memberRemove(victimId), { removed: false }, 'removing twice is a no-op')
    const j4 = await lab.join(4, ops)
    const now3 = [...survivors, j4.member]
    await lab.waitHealthy(now3.map((m) => m.clientUrl))
    const replaceMs = performance.now() - replaceStart

    await waitFor('writes after the replacement', 10_000, () => writes.acked.length >= ackedAtKill + 100)
    await writes.stop()

    const after = await ops.memberList()
    assert.deepEqual(
      after.members.map((m) => [m.name, m.isLearner]).sort(),
      [...survivors.map((m) => [m.name, false]), ['n4', false]].sort(),
    )
    assert.ok(!after.members.some((m) => m.id === victimId))

    // Every acknowledged key, read from each member's own copy (serializable reads).
    const acked = new Set(writes.acked)
    for (const m of now3) {
      await waitFor(`${m.name} holds every acknowledged key`, 15_000, async () => {
        const kvs = await ops.getPrefix(prefix, { endpoint: m.clientUrl, serializable: true, keysOnly: true })
        const have = new Set(kvs.map((kv) => kv.key))
        return [...acked].every((k) => have.has(k))
      })
    }

    t.diagnostic(`3-member formation: ${formationMs.toFixed(0)} ms`)
    t.diagnostic(
      `dead-member replace (remove + add learner + start + promote + healthy): ${replaceMs.toFixed(0)} ms`,
    )
    t.diagnostic(`acknowledged writes: ${writes.acked.length}, failed (not acknowledged): ${writes.failed()}`)
  })
})
