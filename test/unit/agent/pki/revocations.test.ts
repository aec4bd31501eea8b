import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createCa } from '../../../../agent/pki/ca.js'
import { verifyCertificate } from '../../../../agent/pki/cert.js'
import {
  mergeRevocations,
  nextRevocations,
  type RevocationEntry,
  type RevocationList,
  revokedSerials,
  signRevocations,
  verifyRevocations,
} from '../../../../agent/pki/revocations.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import { IDENTITIES, startMs, testCa, testClock } from './fixtures.js'

const entry = (serial: string, nodeId = `n-${serial}`, revokedAtMs = startMs): RevocationEntry => ({
  serial,
  nodeId,
  revokedAtMs,
  reason: 'unplugged for good',
})

const signed = (version: number, entries: RevocationEntry[]) =>
  signRevocations({ clusterId: 'c-test', version, entries }, testCa().keyPem)

describe('signed revocation lists', () => {
  test('sign → JSON → verify round trip; entries normalised', () => {
    const list = signed(1, [entry('BB'), entry('aa'), entry('0bb', 'n-late', startMs + 5)])
    assert.deepEqual(
      list.entries.map((e) => e.serial),
      ['aa', 'bb'],
    )
    assert.equal(list.entries[1]!.nodeId, 'n-BB', 'earliest revocation of a serial wins')
    const wire = JSON.parse(JSON.stringify(list))
    const v = verifyRevocations(wire, testCa().certPem, { clusterId: 'c-test' })
    assert.ok(v.ok)
    assert.deepEqual([...revokedSerials(v.list)], ['aa', 'bb'])
  })

  test('any tampering is refused', () => {
    const list = signed(2, [entry('aa'), entry('bb')])
    const ca = testCa().certPem
    const tampered: unknown[] = [
      { ...list, version: 3 },
      { ...list, entries: list.entries.slice(1) },
      { ...list, entries: [...list.entries, entry('cc')] },
      { ...list, entries: [{ ...list.entries[0]!, nodeId: 'someone-else' }, list.entries[1]] },
      { ...list, clusterId: 'c-evil' },
      { ...list, signature: Buffer.from('x'.repeat(384)).toString('base64') },
    ]
    for (const doc of tampered) {
      const v = verifyRevocations(doc, ca)
      assert.equal(v.ok, false)
      if (!v.ok) assert.equal(v.reason, 'bad-signature')
    }
    for (const doc of [
      null,
      'x',
      { ...list, version: -1 },
      { ...list, entries: [{ serial: 'XYZ' }] },
      { ...list, signature: undefined },
    ]) {
      const v = verifyRevocations(doc, ca)
      assert.equal(v.ok, false)
      if (!v.ok) assert.equal(v.reason, 'malformed')
    }
    const other = verifyRevocations(list, ca, { clusterId: 'c-other' })
    assert.ok(!other.ok && other.reason === 'other-cluster')
  })

  test('a list signed by another CA is refused', () => {
    const otherCa = createCa({
      clusterId: 'c-test',
      clusterName: 'imposter',
      clock: testClock(),
      keyBits: 2048,
    })
    const list = signRevocations({ clusterId: 'c-test', version: 9, entries: [] }, otherCa.keyPem)
    const v = verifyRevocations(list, testCa().certPem)
    assert.ok(!v.ok && v.reason === 'bad-signature')
  })

  test('a revoked certificate fails verification with the list', () => {
    const issued = issueCertificate({
      ca: testCa(),
      profile: 'agent',
      identity: IDENTITIES.agent,
      clock: testClock(),
    })
    const list = signed(1, [entry(issued.serial, 'n1a2b3c4')])
    const v = verifyCertificate(issued.certPem, testCa().certPem, {
      nowMs: startMs,
      revoked: revokedSerials(list),
    })
    assert.ok(!v.ok && v.reason === 'revoked')
  })
})

describe('mergeRevocations', () => {
  // A handful of lists: increasing versions, and two signers racing to version 2.
  const v0 = signed(0, [])
  const v1 = signed(1, [entry('a1')])
  const v2a = signed(2, [entry('a1'), entry('b2')])
  const v2b = signed(2, [entry('a1'), entry('c3')])
  const v2c = signed(2, [entry('a1'), entry('b2'), entry('c3')])
  const v3 = signed(3, [entry('a1'), entry('b2'), entry('c3'), entry('d4')])
  const all: (RevocationList | undefined)[] = [undefined, v0, v1, v2a, v2b, v2c, v3]

  test('commutative, associative, idempotent, and returns one of its inputs', () => {
    for (const a of all) {
      assert.equal(mergeRevocations(a, a), a)
      for (const b of all) {
        const ab = mergeRevocations(a, b)
        assert.equal(ab, mergeRevocations(b, a))
        assert.ok(ab === a || ab === b)
        assert.ok((ab?.version ?? -1) >= Math.max(a?.version ?? -1, b?.version ?? -1))
        for (const c of all) {
          assert.equal(
            mergeRevocations(mergeRevocations(a, b), c),
            mergeRevocations(a, mergeRevocations(b, c)),
          )
        }
      }
    }
  })

  test('gossip in any order converges on the newest list', () => {
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const lists = all.filter((l): l is RevocationList => l !== undefined)
    for (let round = 0; round < 200; round++) {
      const order = [...lists].sort(() => random() - 0.5)
      const seen = order.slice(0, 1 + Math.floor(random() * order.length))
      const result = seen.reduce<RevocationList | undefined>((acc, l) => mergeRevocations(acc, l), undefined)
      const best = seen.reduce<RevocationList | undefined>((acc, l) => mergeRevocations(l, acc), undefined)
      assert.equal(result, best)
      if (seen.includes(v3)) assert.equal(result, v3)
    }
  })

  test('a node that slept through two revocations catches up from the newest list alone', () => {
    const asleep = v0
    const woke = mergeRevocations(asleep, v3)!
    assert.deepEqual([...revokedSerials(woke)].sort(), ['a1', 'b2', 'c3', 'd4'])
  })

  test('nextRevocations unions every list seen, so a lost race loses nothing for long', () => {
    const body = nextRevocations('c-test', [v2a, v2b, undefined], [entry('e5')])
    assert.equal(body.version, 3)
    assert.deepEqual(
      body.entries.map((e) => e.serial),
      ['a1', 'b2', 'c3', 'e5'],
    )
    assert.equal(nextRevocations('c-test', []).version, 0)
    assert.equal(nextRevocations('c-test', [signed(4, [])]).version, 5)
    // Lists of another cluster never leak in.
    assert.deepEqual(nextRevocations('c-else', [v3]).entries, [])
  })
})
