import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { type LeaseApi, LeaseKeeper, leaseBoundAfter } from '../../../../control/lease/lease-keeper.js'

// A fake etcd lease API whose answers the test controls, on a manual clock.
function fakeApi() {
  const calls: string[] = []
  let answer: 'ok' | 'gone' | 'fail' = 'ok'
  const api: LeaseApi = {
    async leaseGrant(ttlSeconds) {
      calls.push('grant')
      return { id: 42n, ttlSeconds }
    },
    async leaseKeepAliveOnce() {
      calls.push('keepalive')
      if (answer === 'fail') throw new Error('unreachable')
      return answer === 'gone' ? 0 : 3
    },
    async leaseRevoke() {
      calls.push('revoke')
    },
  }
  return { api, calls, set: (a: typeof answer) => (answer = a) }
}

const flush = () => new Promise((r) => setImmediate(r))

async function advance(clock: ReturnType<typeof manualClock>, ms: number, stepMs = 100) {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs)
    await flush()
  }
}

describe('LeaseKeeper', () => {
  it('stays valid while keepalives are answered', async () => {
    const clock = manualClock()
    const f = fakeApi()
    const k = new LeaseKeeper(
      { ttlSeconds: 3, safetyMarginMs: 0 },
      { api: f.api, clock, logger: silentLogger() },
    )
    assert.equal(await k.start(), 42n)
    await advance(clock, 10_000)
    assert.equal(k.isValid(), true)
    assert.ok(f.calls.filter((c) => c === 'keepalive').length >= 9)
  })

  it('is invalid from the send time of the last good keepalive + TTL, before etcd can expire it', async () => {
    const clock = manualClock()
    const f = fakeApi()
    const k = new LeaseKeeper(
      { ttlSeconds: 3, safetyMarginMs: 250 },
      { api: f.api, clock, logger: silentLogger() },
    )
    const lost: string[] = []
    k.onLost((r) => lost.push(r))
    await k.start()
    await advance(clock, 1000) // one keepalive sent at t=1000 and answered
    f.set('fail')
    const lastGoodSentAt = 1000
    await advance(clock, 2700) // t = 3700: keepalives at 2000 and 3000 failed
    assert.equal(k.isValid(), true)
    assert.equal(k.validUntilMonoMs, lastGoodSentAt + 3000 - 250)
    await advance(clock, 100)
    assert.equal(k.isValid(), false)
    assert.deepEqual(lost, ['expired'])
    f.set('ok')
    await advance(clock, 2000)
    assert.equal(k.isValid(), false, 'a lost lease never comes back')
    assert.deepEqual(lost, ['expired'])
  })

  it('reports a lease etcd no longer has as revoked at once', async () => {
    const clock = manualClock()
    const f = fakeApi()
    const k = new LeaseKeeper({ ttlSeconds: 3 }, { api: f.api, clock, logger: silentLogger() })
    await k.start()
    f.set('gone')
    await advance(clock, 1000)
    assert.equal(k.lossReason, 'revoked')
    assert.equal(k.isValid(), false)
  })

  it('stops keeping alive on stop, and revokes only when asked', async () => {
    const clock = manualClock()
    const f = fakeApi()
    const k = new LeaseKeeper({ ttlSeconds: 3 }, { api: f.api, clock, logger: silentLogger() })
    await k.start()
    await k.stop({ revoke: true })
    const before = f.calls.length
    await advance(clock, 5000)
    assert.equal(f.calls.length, before)
    assert.deepEqual(f.calls, ['grant', 'revoke'])
  })
})

describe('leaseBoundAfter', () => {
  it('counts from the send time minus the margin, never moves back, and reads TTL 0 as revoked', () => {
    assert.deepEqual(leaseBoundAfter(0, 1000, 3, 250), { revoked: false, boundMono: 3750 })
    assert.deepEqual(leaseBoundAfter(5000, 1000, 3, 250), { revoked: false, boundMono: 5000 })
    assert.deepEqual(leaseBoundAfter(5000, 1000, 0, 250), { revoked: true })
    assert.deepEqual(leaseBoundAfter(5000, 1000, -1, 250), { revoked: true })
  })
})
