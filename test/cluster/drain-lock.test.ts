import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { execa, type ResultPromise } from 'execa'
import { HomecloudError } from '../../agent/core/errors.js'
import { silentLogger } from '../../agent/core/log.js'
import { packageRoot } from '../../agent/core/package-root.js'
import type { EtcdClient } from '../../agent/etcd/client.js'
import { generateRsaKeyPem } from '../../agent/pki/keys.js'
import { acquireLock, breakLock, readLock } from '../../control/lock/cluster-lock.js'
import { LOCK_KEY } from '../../control/lock/record.js'
import { takeClusterLock } from '../../control/lock/take.js'
import { signCaRecord } from '../../control/releases/records.js'
import { newRollout, ROLLOUT_KEY } from '../../control/rollout/record.js'
import { LAB_ENV } from '../../lab/processes.js'
import { EtcdLab, realClock, sleep, waitFor } from '../support/etcd-lab.js'

// The cluster lock against real etcd: one holder at a time, a dead holder's lock frees
// itself when its lease expires (holder = a separate process, SIGKILLed), fencing tokens
// only grow, and the preconditions refuse with reasons — a rollout's node in progress
// among them, fenced on the rollout record's revision in the same transaction.

const log = silentLogger()
const clock = realClock
const take = (etcd: EtcdClient, holder: string, ttlSeconds = 5) =>
  acquireLock({ holder, operation: 'drain', node: 'w1' }, { etcd, clock, log }, { ttlSeconds })

async function rejects(p: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HomecloudError, String(err))
    assert.equal(err.code, code)
    if (message) assert.match(err.message, message)
    return true
  })
}

describe('cluster lock (real etcd)', { timeout: 240_000 }, () => {
  let lab: EtcdLab
  let etcd: EtcdClient
  const children: ResultPromise[] = []
  before(async () => {
    lab = await EtcdLab.create({ block: 205 })
    etcd = await lab.form(3)
  })
  after(async () => {
    for (const c of children) c.kill('SIGKILL')
    await lab?.cleanup()
  })

  it('is exclusive, names its holder, and tokens grow', async () => {
    const a = await take(etcd, 'alice')
    await rejects(take(etcd, 'bob'), 'LOCK_HELD', /held by alice \(drain of w1/)
    const seen = await readLock(etcd)
    assert.equal(seen?.record?.holder, 'alice')
    assert.equal(seen?.token, a.token)
    assert.ok(a.isValid())
    await a.release()
    assert.equal(await etcd.get(LOCK_KEY), undefined)
    const b = await take(etcd, 'bob')
    assert.ok(b.token > a.token, `${b.token} > ${a.token}`)
    await b.release()
  })

  it('stays held while renewed, well past its TTL', async () => {
    const a = await take(etcd, 'long', 2)
    await sleep(5000)
    assert.ok(a.isValid())
    await rejects(take(etcd, 'other'), 'LOCK_HELD')
    await a.release()
  })

  it('frees itself when the holder process is killed; the next holder gets a larger token', async () => {
    const m = lab.members.get(1)!
    const child = execa(
      process.execPath,
      [
        '--import',
        'tsx',
        join(packageRoot(), 'test', 'support', 'lock-holder.ts'),
        m.clientUrl,
        lab.clientFiles.caFile,
        lab.clientFiles.certFile,
        lab.clientFiles.keyFile,
        '3',
        'w9',
      ],
      { env: { [LAB_ENV]: lab.dir }, reject: false, cwd: packageRoot() },
    )
    children.push(child)
    let line = ''
    child.stdout?.on('data', (d: Buffer) => {
      line += d.toString()
    })
    await waitFor('the holder process to take the lock', 60_000, () => line.includes('\n'))
    const { token } = JSON.parse(line) as { token: number }
    await rejects(take(etcd, 'next'), 'LOCK_HELD', /test-holder:\d+ \(test of w9/)
    child.kill('SIGKILL')
    await child
    let next: Awaited<ReturnType<typeof take>> | undefined
    await waitFor(
      'the lease to expire and the lock to be free',
      30_000,
      async () => {
        next = await take(etcd, 'next')
        return true
      },
      250,
    )
    assert.ok(next!.token > token)
    await next!.release()
  })

  it('a holder whose lease is gone knows it, and its release leaves the next holder alone', async () => {
    const a = await take(etcd, 'alice', 2)
    const lease = BigInt(`0x${a.record.lease}`)
    await etcd.leaseRevoke(lease)
    await waitFor('alice to notice', 10_000, () => !a.isValid())
    assert.throws(
      () => a.assertHeld(),
      (e: unknown) => e instanceof HomecloudError && e.code === 'LOCK_LOST',
    )
    const b = await take(etcd, 'bob')
    await a.release()
    assert.equal((await readLock(etcd))?.record?.holder, 'bob')
    await b.release()
  })

  it('is broken only while it is the lock seen: its key goes, its holder learns it lost it', async () => {
    // The rollout's take-over of its own lock from a coordinator that lost its seat but lives on.
    const old = await take(etcd, 'rollout:old', 2)
    assert.equal(await breakLock(etcd, old.token + 1), false, 'another token: nothing touched')
    assert.equal((await readLock(etcd))?.token, old.token)
    assert.ok(old.isValid())
    assert.equal(await breakLock(etcd, old.token), true)
    assert.equal(await etcd.get(LOCK_KEY), undefined)
    await waitFor('the old holder to notice', 10_000, () => !old.isValid())
    const next = await take(etcd, 'rollout:new')
    assert.ok(next.token > old.token, `${next.token} > ${old.token}`)
    assert.equal(await breakLock(etcd, old.token), false, 'the old token breaks nothing now')
    await old.release()
    assert.equal((await readLock(etcd))?.record?.holder, 'rollout:new')
    await next.release()
  })

  it('is refused while a rollout has a node in progress, and taken fenced on the record it decided on', async () => {
    const key = generateRsaKeyPem(1024)
    const record = (current: 'w2' | null) => {
      const r = newRollout(null, {
        clusterId: 'c1',
        target: { version: '2.0.0', releases: { amd64: { id: 'a'.repeat(64), version: '2.0.0' } } },
        canary: 1,
        nowMs: 1000,
        retryBad: false,
      })
      const cur = { node: 'id-w2', name: 'w2', arch: 'amd64' as const, step: 'gate' as const }
      const body = current ? { ...r, current: { ...cur, startedAtMs: 1000, stepSinceMs: 1000 } } : r
      return signCaRecord('rollout', body, key)
    }
    const kube = {
      listNodes: async () => [
        { metadata: { name: 'w1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      ],
    }
    const req = { holder: 'cli', operation: 'drain' as const, node: 'w1' }
    await etcd.put(ROLLOUT_KEY, record('w2'))
    // The rollout's own lock key has lapsed (its coordinator upgrading itself): the record still holds.
    assert.equal(await etcd.get(LOCK_KEY), undefined)
    await rejects(
      takeClusterLock(req, { etcd, kube, clock, log }, { force: false }),
      'LOCK_REFUSED',
      /a rollout is upgrading w2 \(step gate\): it holds the cluster lock until w2 is back/,
    )
    await rejects(
      takeClusterLock({ ...req, node: 'w2' }, { etcd, kube, clock, log }, { force: false }),
      'LOCK_REFUSED',
      /until it is back/,
    )
    assert.equal(await etcd.get(LOCK_KEY), undefined, 'a refusal changes nothing')
    // Decided on a record that moved since (a rollout began with a node): not taken.
    const seen = (await etcd.get(ROLLOUT_KEY))?.modRevision ?? 0
    await etcd.put(ROLLOUT_KEY, record(null))
    await rejects(
      acquireLock(
        req,
        { etcd, clock, log },
        { ttlSeconds: 5, unchanged: { key: ROLLOUT_KEY, modRevision: seen } },
      ),
      'LOCK_REFUSED',
      /\/homecloud\/rollout changed while the lock was asked for/,
    )
    assert.equal(await etcd.get(LOCK_KEY), undefined)
    // The node finished: the record holds nothing, the lock is taken.
    const ok = await takeClusterLock(req, { etcd, kube, clock, log }, { force: false })
    await ok.release()
    // An unreadable record: nobody knows what it holds — refused, unless forced.
    await etcd.put(ROLLOUT_KEY, 'not a record')
    await rejects(
      takeClusterLock(req, { etcd, kube, clock, log }, { force: false }),
      'LOCK_REFUSED',
      /the rollout record is unreadable/,
    )
    const warned: string[] = []
    const forced = await takeClusterLock(
      req,
      { etcd, kube, clock, log },
      { force: true, warn: (l) => warned.push(l) },
    )
    assert.match(warned.join('\n'), /going ahead despite: the rollout record is unreadable/)
    await forced.release()
    await etcd.delete(ROLLOUT_KEY)
  })

  it('is refused while a node is NotReady or etcd has no failure to spare, unless forced', async () => {
    const kube = (ready: boolean) => ({
      listNodes: async () => [
        { metadata: { name: 'w1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
        {
          metadata: { name: 'w2', labels: { 'homecloud.dev/node-id': 'id-w2' } },
          status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }] },
        },
      ],
    })
    const req = { holder: 'cli', operation: 'drain' as const, node: 'w1' }
    await rejects(
      takeClusterLock(req, { etcd, kube: kube(false), clock, log }, { force: false }),
      'LOCK_REFUSED',
      /node w2 NotReady/,
    )
    // w2 was revoked (its node left for good, known by its node-id label): no second disruption.
    const whyGone = (id: string) => (id === 'id-w2' ? 'revoked' : null)
    const past = await takeClusterLock(
      req,
      { etcd, kube: kube(false), clock, log, whyGone },
      { force: false },
    )
    await past.release()
    const ok = await takeClusterLock(req, { etcd, kube: kube(true), clock, log }, { force: false })
    await ok.release()
    // One voter of three down: no failure to spare.
    await lab.members.get(3)!.proc!.kill()
    await rejects(
      takeClusterLock(req, { etcd, kube: kube(true), clock, log }, { force: false }),
      'LOCK_REFUSED',
      /etcd has no failure to spare: 2 of 3 voters healthy/,
    )
    assert.equal(await etcd.get(LOCK_KEY), undefined, 'a refusal changes nothing')
    const warned: string[] = []
    const forced = await takeClusterLock(
      req,
      { etcd, kube: kube(false), clock, log },
      { force: true, warn: (l) => warned.push(l) },
    )
    assert.equal(warned.length, 2)
    await forced.release()
  })
})
