import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { createCa } from '../../../../agent/pki/ca.js'
import { nextRevocations, type RevocationList, signRevocations } from '../../../../agent/pki/revocations.js'
import { type IssuedCertificate, issueCertificate } from '../../../../agent/pki/sign.js'
import { CertBook } from '../../../../agent/trust/cert-book.js'
import { derToPem, pemToDer, startMs, testCa } from '../pki/fixtures.js'

const dayMs = 86_400_000
const CLUSTER = 'c-test'
const A = 'aaaaaaaaaaaaaaaaaaaa'
const B = 'bbbbbbbbbbbbbbbbbbbb'

const issued = new Map<string, IssuedCertificate & { keyPem: string }>()
/** An agent certificate for `nodeId` (cached per id, validity and start: leaves cost an RSA key each). */
function agentCert(nodeId: string, validityMs = dayMs, atMs = startMs) {
  const key = `${nodeId}/${validityMs}/${atMs}`
  let c = issued.get(key)
  if (!c) {
    c = issueCertificate({
      ca: testCa(),
      profile: 'agent',
      identity: { nodeId, nodeName: `n-${nodeId.slice(0, 4)}`, ips: ['10.77.0.2'] },
      clock: manualClock(atMs),
      validityMs,
    })
    issued.set(key, c)
  }
  return c
}

function newBook(certsMax?: number) {
  const clock = manualClock(startMs)
  const book = new CertBook(testCa().certPem, CLUSTER, () => clock.nowMs(), certsMax)
  return { book, clock }
}

function revocations(version: number, entries: { serial: string; nodeId: string }[]): RevocationList {
  const body = nextRevocations(
    CLUSTER,
    [],
    entries.map((e) => ({ ...e, revokedAtMs: startMs, reason: 'test' })),
  )
  return signRevocations({ ...body, version }, testCa().keyPem)
}

function rejected(r: ReturnType<CertBook['add']>, reason: string, detail?: RegExp) {
  assert.equal(r.ok, false, 'expected a rejection')
  if (!r.ok) {
    assert.equal(r.reason, reason, r.detail)
    if (detail) assert.match(r.detail, detail)
  }
}

describe('CertBook: who is a member', () => {
  test('a valid agent certificate of the cluster CA makes its node a member', () => {
    const { book } = newBook()
    const c = agentCert(A)
    const r = book.add(A, c.certPem)
    assert.ok(r.ok)
    assert.equal(r.info.serial, c.serial)
    assert.equal(book.isMember(A), true)
    assert.equal(book.get(A)?.certPem, c.certPem)
    assert.deepEqual(book.allPems(), [c.certPem])
    assert.equal(book.isMember(B), false)
    assert.equal(book.cluster, CLUSTER)
  })

  test('no CA yet (a joiner) → no-ca, nothing remembered; setCa lets it in', () => {
    const book = new CertBook(null, CLUSTER, () => startMs)
    rejected(book.add(A, agentCert(A).certPem), 'no-ca')
    assert.equal(book.isMember(A), false)
    book.setCa(testCa().certPem)
    assert.equal(book.ca, testCa().certPem)
    assert.ok(book.add(A, agentCert(A).certPem).ok)
  })

  test('a certificate presented for another node id → wrong-node (one node cannot vouch as another)', () => {
    const { book } = newBook()
    rejected(book.add(B, agentCert(A).certPem), 'wrong-node', new RegExp(A))
    assert.equal(book.isMember(A), false)
    assert.equal(book.isMember(B), false)
    assert.deepEqual(book.allPems(), [])
  })

  test('a certificate of another profile (admin) → not-agent', () => {
    const { book } = newBook()
    const admin = issueCertificate({
      ca: testCa(),
      profile: 'admin',
      identity: {},
      clock: manualClock(startMs),
    })
    rejected(book.add('homecloud-admin', admin.certPem), 'not-agent', /admin/)
  })

  test("another cluster's CA, a flipped signature byte, garbage → invalid", () => {
    const { book } = newBook()
    const otherCa = createCa({
      clusterId: 'c-other',
      clusterName: 'other',
      clock: manualClock(startMs),
      keyBits: 2048,
    })
    const foreign = issueCertificate({
      ca: otherCa,
      profile: 'agent',
      identity: { nodeId: A, nodeName: 'n-a', ips: ['10.77.0.2'] },
      clock: manualClock(startMs),
    })
    rejected(book.add(A, foreign.certPem), 'invalid', /wrong-ca/)
    const der = pemToDer(agentCert(A).certPem)
    der[der.length - 1]! ^= 0x01
    rejected(book.add(A, derToPem(der)), 'invalid', /bad-signature/)
    rejected(book.add(A, 'not a certificate'), 'invalid', /malformed/)
    assert.equal(book.isMember(A), false)
  })

  test('a tampered copy of a member certificate changes nothing', () => {
    const { book } = newBook()
    const c = agentCert(A)
    assert.ok(book.add(A, c.certPem).ok)
    const der = pemToDer(c.certPem)
    der[der.length - 1]! ^= 0x01
    rejected(book.add(A, derToPem(der)), 'invalid')
    assert.equal(book.get(A)?.certPem, c.certPem)
    assert.equal(book.isMember(A), true)
  })

  test('expiry: an expired certificate is refused, and a member stops being one when it expires', () => {
    const { book, clock } = newBook()
    const short = agentCert(A, 60_000)
    assert.ok(book.add(A, short.certPem).ok)
    clock.advance(2 * 60_000)
    assert.equal(book.isMember(A), false, 'expired')
    assert.deepEqual(book.allPems(), [], 'expired certificates are not handed on')
    rejected(book.add(A, short.certPem), 'invalid', /expired/)
  })

  test('a certificate from the future → invalid (not-yet-valid)', () => {
    const { book } = newBook()
    rejected(book.add(A, agentCert(A, dayMs, startMs + 10 * dayMs).certPem), 'invalid', /not-yet-valid/)
  })

  test('the newest certificate wins; replaying the older one does not replace it', () => {
    const { book } = newBook()
    const older = agentCert(A, dayMs)
    const newer = agentCert(A, 2 * dayMs)
    assert.ok(book.add(A, older.certPem).ok)
    assert.ok(book.add(A, newer.certPem).ok)
    assert.equal(book.get(A)?.serial, newer.serial)
    assert.ok(book.add(A, older.certPem).ok, 'still a valid certificate of A')
    assert.equal(book.get(A)?.serial, newer.serial, 'but not the one kept')
  })

  test('memberOfPem: the exact certificate held for a member names it; anything else, nobody', () => {
    const { book, clock } = newBook()
    const older = agentCert(A, dayMs)
    const newer = agentCert(A, 2 * dayMs)
    assert.equal(book.memberOfPem(older.certPem), undefined, 'not held yet')
    assert.ok(book.add(A, older.certPem).ok)
    assert.equal(book.memberOfPem(older.certPem), A)
    assert.ok(book.add(A, newer.certPem).ok)
    assert.equal(book.memberOfPem(older.certPem), undefined, 'replaced by a renewal')
    assert.equal(book.memberOfPem(newer.certPem), A)
    assert.equal(book.memberOfPem(`${newer.certPem} `), undefined, 'text must match exactly')
    book.adoptRevocations(revocations(1, [{ serial: newer.serial, nodeId: A }]))
    assert.equal(book.memberOfPem(newer.certPem), undefined, 'revoked')
    const short = agentCert(B, 60_000)
    assert.ok(book.add(B, short.certPem).ok)
    assert.equal(book.memberOfPem(short.certPem), B)
    clock.advance(2 * 60_000)
    assert.equal(book.memberOfPem(short.certPem), undefined, 'expired')
  })

  test('bounded: a full book refuses newcomers, keeps serving those it has', () => {
    const { book } = newBook(1)
    assert.ok(book.add(A, agentCert(A).certPem).ok)
    rejected(book.add(B, agentCert(B).certPem), 'invalid', /full/)
    assert.ok(book.add(A, agentCert(A, 2 * dayMs).certPem).ok, 'a renewal of a member still fits')
    assert.equal(book.isMember(B), false)
  })
})

describe('CertBook: revocation', () => {
  test('a revoked node is forgotten and refused, by serial and by node id', () => {
    const { book } = newBook()
    const a = agentCert(A)
    const b = agentCert(B)
    assert.ok(book.add(A, a.certPem).ok)
    assert.ok(book.add(B, b.certPem).ok)
    const newly = book.adoptRevocations(revocations(1, [{ serial: a.serial, nodeId: A }]))
    assert.deepEqual(newly, [A])
    assert.equal(book.isRevoked(A), true)
    assert.equal(book.isMember(A), false)
    assert.equal(book.get(A), undefined)
    assert.deepEqual(book.allPems(), [b.certPem])
    rejected(book.add(A, a.certPem), 'revoked')
    // Another certificate of the same node (a serial the list does not name): still refused.
    rejected(book.add(A, agentCert(A, 3 * dayMs).certPem), 'revoked', /node revoked/)
    assert.equal(book.isMember(B), true, 'others are untouched')
  })

  test('lists merge by version: older or equal lists change nothing; newer ones add', () => {
    const { book } = newBook()
    const a = agentCert(A)
    const b = agentCert(B)
    const v1 = revocations(1, [{ serial: a.serial, nodeId: A }])
    const v2 = revocations(2, [
      { serial: a.serial, nodeId: A },
      { serial: b.serial, nodeId: B },
    ])
    // Entries are ordered by serial, so the ids come in any order.
    assert.deepEqual(book.adoptRevocations(v2).sort(), [A, B])
    assert.equal(book.revocationList, v2)
    assert.deepEqual(book.adoptRevocations(v1), [], 'an older list is ignored')
    assert.equal(book.revocationList, v2)
    assert.equal(book.isRevoked(B), true, 'the older list did not un-revoke B')
    assert.deepEqual(book.adoptRevocations(v2), [], 'the same list again: nothing new')
  })

  test('a newer list reports only the nodes it newly revokes', () => {
    const { book } = newBook()
    const a = agentCert(A)
    const b = agentCert(B)
    book.adoptRevocations(revocations(1, [{ serial: a.serial, nodeId: A }]))
    const newly = book.adoptRevocations(
      revocations(2, [
        { serial: a.serial, nodeId: A },
        { serial: b.serial, nodeId: B },
      ]),
    )
    assert.deepEqual(newly, [B])
  })

  test("two signers raced to one version: the winner is kept, the loser's nodes stay refused", () => {
    const { book } = newBook()
    const a = agentCert(A)
    const b = agentCert(B)
    assert.ok(book.add(A, a.certPem).ok)
    assert.ok(book.add(B, b.certPem).ok)
    const forA = revocations(1, [{ serial: a.serial, nodeId: A }])
    const forB = revocations(1, [{ serial: b.serial, nodeId: B }])
    assert.deepEqual(book.adoptRevocations(forA), [A])
    assert.deepEqual(book.adoptRevocations(forB), [B], 'the other list of the same version revokes B too')
    const winner = forA.signature > forB.signature ? forA : forB
    assert.equal(book.revocationList, winner, 'the same winner on every node, whatever the order')
    assert.equal(book.isRevoked(A), true, 'losing the race never un-revokes A')
    assert.equal(book.isRevoked(B), true)
    assert.equal(book.revokedSerials().size, 2)
  })
})
