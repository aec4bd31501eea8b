import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { silentLogger } from '../../agent/core/log.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { Candidate } from '../../control/lease/election.js'
import { EtcdLab, type LabMember, realClock, sleep, waitFor } from '../support/etcd-lab.js'

// Three voters; the election API keeps one coordinator at a time, and a leader whose
// lease lapses hands over to the next; then the raft leader is SIGKILLed and the
// survivors elect a new one.

describe('etcd: one coordinator at a time, and leader failover', { timeout: 240_000 }, () => {
  let lab: EtcdLab
  let all: EtcdClient
  const candidates: Candidate[] = []

  before(async () => {
    lab = await EtcdLab.create({ block: 202 })
    all = await lab.form(3)
  })
  after(async () => {
    for (const c of candidates) await c.abandon().catch(() => {})
    await lab?.cleanup()
  })

  it('elects one candidate; when its lease lapses the other takes over, never both at once', async (t) => {
    const [m1, m2] = [lab.members.get(1)!, lab.members.get(2)!]
    const ttlSeconds = 2
    const candidate = (value: string, m: LabMember) => {
      const c = new Candidate(
        { election: '/test/coordinator', value, ttlSeconds },
        { client: lab.client([m.clientUrl]), clock: realClock, logger: silentLogger() },
      )
      candidates.push(c)
      return c
    }
    const a = candidate('A', m1)
    const b = candidate('B', m2)

    // Watch leadership as etcd reports it, and both candidates' own belief, throughout.
    const observed: string[] = []
    const observer = new AbortController()
    const observing = (async () => {
      try {
        for await (const l of all.observe('/test/coordinator', { signal: observer.signal })) {
          if (observed.at(-1) !== l.value) observed.push(l.value)
        }
      } catch {}
    })()
    let both = 0
    let watching = true
    const watch = (async () => {
      while (watching) {
        if (a.isLeader() && b.isLeader()) both++
        await sleep(5)
      }
    })()

    await a.campaign()
    assert.equal(a.isLeader(), true)
    let bWonAt: number | undefined
    const bCampaign = b.campaign().then(() => {
      bWonAt = performance.now()
    })
    // A keeps its lease alive: B waits, well past the TTL.
    await sleep(ttlSeconds * 1000 * 2)
    assert.equal(b.isLeader(), false)
    assert.equal((await all.leader('/test/coordinator'))?.value, 'A')

    // A "crashes": no resign, no revoke; its keepalives just stop.
    const aLease = a.leaseId!
    const crashedAt = performance.now()
    await a.abandon()
    const aBeliefEndedAt = performance.now()
    await bCampaign
    assert.equal(b.isLeader(), true)
    assert.equal(a.isLeader(), false)
    assert.ok(bWonAt! >= aBeliefEndedAt, 'B wins only after A stopped believing it leads')
    assert.equal((await all.leader('/test/coordinator'))?.value, 'B')
    assert.equal(await all.leaseTimeToLive(aLease), -1, "A's lease expired at etcd")

    // B resigns: nobody leads until someone campaigns again.
    await b.resign()
    assert.equal(await all.leader('/test/coordinator'), undefined)

    watching = false
    await watch
    await waitFor('observe saw A then B', 5000, () => observed.includes('B'))
    observer.abort()
    await observing
    assert.equal(both, 0, 'never two leaders at once')
    assert.deepEqual(observed.slice(0, 2), ['A', 'B'])
    t.diagnostic(
      `lease handover after A's crash: ${(bWonAt! - crashedAt).toFixed(0)} ms (TTL ${ttlSeconds} s)`,
    )
  })

  it('a lease kept alive by a candidate cut off from etcd stops counting before etcd expires it', async () => {
    const m3 = lab.members.get(3)!
    const c = new Candidate(
      { election: '/test/cutoff', value: 'C', ttlSeconds: 2 },
      { client: lab.client([m3.clientUrl]), clock: realClock, logger: silentLogger() },
    )
    candidates.push(c)
    await c.campaign()
    const lost = new Promise<string>((resolve) => c.onLost(resolve))
    // Cut C off: its only endpoint dies. It must give up leadership on its own clock.
    await m3.proc!.kill()
    const reason = await lost
    assert.equal(reason, 'expired')
    assert.equal(c.isLeader(), false)
    // Bring member 3 back (same data dir): the cluster is whole again for the next test.
    await m3.proc!.start()
    await lab.waitHealthy([m3.clientUrl])
  })

  it('elects a new raft leader when the leader is SIGKILLed', async (t) => {
    const members = [...lab.members.values()]
    const status = await all.status(members[0]!.clientUrl)
    const oldLeader = status.leaderId
    assert.notEqual(oldLeader, 0n)
    const statuses = await Promise.all(members.map((m) => all.status(m.clientUrl)))
    const leader = members[statuses.findIndex((s) => s.memberId === oldLeader)]!
    const survivors = members.filter((m) => m !== leader)

    const killedAt = performance.now()
    await leader.proc!.kill()
    let newLeader = 0n
    await waitFor(
      'a new leader on both survivors',
      30_000,
      async () => {
        const seen = await Promise.all(survivors.map((m) => all.status(m.clientUrl, 500)))
        const ids = new Set(seen.map((s) => s.leaderId))
        newLeader = seen[0]!.leaderId
        return ids.size === 1 && newLeader !== 0n && newLeader !== oldLeader
      },
      20,
    )
    const failoverMs = performance.now() - killedAt
    const c = lab.client(survivors.map((m) => m.clientUrl))
    await c.put('/test/after-failover', 'ok')
    assert.equal((await c.get('/test/after-failover'))?.value, 'ok')
    t.diagnostic(
      `leader failover (SIGKILL → both survivors agree on a new leader): ${failoverMs.toFixed(0)} ms`,
    )
  })
})
