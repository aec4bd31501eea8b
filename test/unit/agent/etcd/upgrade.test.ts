import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { flushV2Wal, minorOf, nextEtcdMinor } from '../../../../agent/etcd/upgrade.js'

// The upgrade path's pure parts: which minor comes next, never a guess on an odd version.
// Real members: test/cluster/etcd-upgrade.test.ts.

describe('etcd upgrade path', () => {
  it('reads the minor of a cluster or server version', () => {
    assert.equal(minorOf('3.4.0'), '3.4')
    assert.equal(minorOf('3.5.36'), '3.5')
    assert.equal(minorOf('3.6'), '3.6')
    assert.equal(minorOf('3.7.3'), undefined)
    assert.equal(minorOf('not_decided'), undefined)
    assert.equal(minorOf('3.60.1'), undefined)
  })

  it('moves one minor at a time and stops at the end of the path', () => {
    assert.equal(nextEtcdMinor('3.4.0'), '3.5')
    assert.equal(nextEtcdMinor('3.5.0'), '3.6')
    assert.equal(nextEtcdMinor('3.6.0'), null)
  })

  it('refuses a version it does not know, or an undecided one', () => {
    for (const v of ['not_decided', '', '3.3.0', '4.0.0']) {
      assert.throws(
        () => nextEtcdMinor(v),
        (err) => err instanceof HomecloudError && err.code === 'ETCD_RESPONSE_INVALID',
      )
    }
  })

  it('flushes snapshot-count + 1 writes to one key, then deletes it', async () => {
    const puts: string[] = []
    const deleted: string[] = []
    const n = await flushV2Wal(
      {
        put: async (k, v) => puts.push(`${k}=${v}`),
        delete: async (k) => deleted.push(k),
      },
      { snapshotCount: 9, concurrency: 4, key: '/k' },
    )
    assert.equal(n, 10)
    assert.equal(puts.length, 10)
    assert.ok(puts.every((p) => p.startsWith('/k=')))
    assert.deepEqual(deleted, ['/k'])
  })
})
