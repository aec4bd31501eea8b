import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemClock } from '../../../../agent/core/clock.js'
import { createCa } from '../../../../agent/pki/ca.js'
import {
  CurrentBody,
  KeysBody,
  protectedIds,
  setCurrent,
  signCaRecord,
  verifyCaRecord,
  wantedIds,
  withKey,
  withoutKey,
} from '../../../../control/releases/records.js'

const clock = systemClock()
const ca = createCa({ clusterId: 'c1', clusterName: 'test', clock })
const other = createCa({ clusterId: 'c1', clusterName: 'evil', clock })
const k1 = '1'.repeat(64)
const k2 = '2'.repeat(64)
const id = (c: string) => c.repeat(64)
const ctx = { caPem: ca.certPem, clusterId: 'c1' }

describe('release records', () => {
  it('a CA-signed key set verifies; another CA, a tampered body, another cluster do not', () => {
    const body = withKey(null, 'c1', k1, 5)
    const text = signCaRecord('release-keys', body, ca.keyPem)
    assert.deepEqual(verifyCaRecord('release-keys', text, KeysBody, ctx), { ok: true, body })
    const forged = signCaRecord('release-keys', withKey(body, 'c1', k2, 6), other.keyPem)
    assert.match(
      String((verifyCaRecord('release-keys', forged, KeysBody, ctx) as { error: string }).error),
      /not signed by this cluster's CA/,
    )
    const tampered = JSON.parse(text)
    tampered.body.keys.push({ key: k2, addedAtMs: 1 })
    assert.equal(verifyCaRecord('release-keys', JSON.stringify(tampered), KeysBody, ctx).ok, false)
    assert.equal(verifyCaRecord('release-keys', text, KeysBody, { ...ctx, clusterId: 'c2' }).ok, false)
    // A key-set record is no current-release record (domain separation).
    assert.equal(verifyCaRecord('release-current', text, CurrentBody as never, ctx).ok, false)
    assert.equal(verifyCaRecord('release-keys', 'nope', KeysBody, ctx).ok, false)
  })

  it('an older version than one seen is refused: a replayed key set cannot downgrade the trust', () => {
    const v1 = withKey(null, 'c1', k1, 5)
    const v2 = withoutKey(withKey(v1, 'c1', k2, 6), k1)
    assert.equal(v2.version, 3)
    const old = signCaRecord('release-keys', v1, ca.keyPem)
    const r = verifyCaRecord('release-keys', old, KeysBody, { ...ctx, seenVersion: 3 })
    assert.equal(r.ok, false)
    assert.match((r as { error: string }).error, /older than version 3/)
  })

  it('setCurrent keeps the one before as previous; protected ids are current and previous', () => {
    const a = setCurrent(null, 'c1', 'amd64', { id: id('a'), version: '1' }, 'first-publish', 10)!
    assert.equal(a.archs.amd64?.previous, undefined)
    const b = setCurrent(a, 'c1', 'amd64', { id: id('b'), version: '2' }, 'admin', 20)!
    assert.deepEqual(b.archs.amd64?.previous, { id: id('a'), version: '1' })
    assert.equal(b.version, 2)
    assert.equal(setCurrent(b, 'c1', 'amd64', { id: id('b'), version: '2' }, 'admin', 30), null)
    assert.deepEqual([...protectedIds(b)].sort(), [id('a'), id('b')])
  })

  it('every node wants current, previous, and the two newest published after current; nothing else', () => {
    const cur = setCurrent(
      setCurrent(null, 'c1', 'amd64', { id: id('a'), version: '1' }, 'x', 10),
      'c1',
      'amd64',
      { id: id('b'), version: '2' },
      'x',
      20,
    )
    const published = [
      { id: id('0'), arch: 'amd64' as const, publishedAtMs: 1 },
      { id: id('a'), arch: 'amd64' as const, publishedAtMs: 5 },
      { id: id('b'), arch: 'amd64' as const, publishedAtMs: 15 },
      { id: id('c'), arch: 'amd64' as const, publishedAtMs: 25 },
      { id: id('d'), arch: 'amd64' as const, publishedAtMs: 30 },
      { id: id('e'), arch: 'arm64' as const, publishedAtMs: 2 },
    ]
    assert.deepEqual([...wantedIds(published, cur)].sort(), [id('a'), id('b'), id('c'), id('d'), id('e')])
    // No current yet: the first published (first-publish makes it current) and the two newest after it.
    assert.deepEqual([...wantedIds(published, null)].sort(), [id('0'), id('c'), id('d'), id('e')])
  })
})
