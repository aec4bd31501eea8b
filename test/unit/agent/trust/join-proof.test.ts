import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { joinProof, proofMatches, replyProof, shortCode } from '../../../../agent/trust/join-proof.js'

const secret = 'a'.repeat(64)
const otherSecret = 'b'.repeat(64)
const hh = Buffer.alloc(64, 1)
const otherHh = Buffer.alloc(64, 2)
const nodeId = '0123456789abcdef0123'
const csr = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n'
const cert = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n'
const ca = '-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n'

describe('joinProof: a MAC bound to the secret, the connection, the node and its CSR', () => {
  test('deterministic, 32 bytes of lowercase hex (what the wire schema accepts)', () => {
    const p = joinProof(secret, hh, nodeId, csr)
    assert.match(p, /^[0-9a-f]{64}$/)
    assert.equal(joinProof(secret, Buffer.from(hh), nodeId, `${csr}`), p)
  })

  test('every input changes it: secret, handshake hash, node id, CSR', () => {
    const p = joinProof(secret, hh, nodeId, csr)
    const variants = [
      joinProof(otherSecret, hh, nodeId, csr),
      joinProof(secret, otherHh, nodeId, csr),
      joinProof(secret, hh, `${nodeId.slice(0, -1)}4`, csr),
      joinProof(secret, hh, nodeId, csr.replace('MIIB', 'MIIA')),
      joinProof(secret, Buffer.concat([hh, Buffer.from([0])]), nodeId, csr),
    ]
    for (const v of variants) assert.notEqual(v, p)
    assert.equal(new Set(variants).size, variants.length)
  })

  test('a replay on another connection fails: the signer recomputes with its own handshake hash', () => {
    // Connection A: the joiner and the signer see the same hash and agree.
    const sent = joinProof(secret, hh, nodeId, csr)
    assert.ok(proofMatches(joinProof(secret, hh, nodeId, csr), sent))
    // Connection B (same key, new Noise session) or C (another key): no match.
    assert.equal(proofMatches(joinProof(secret, otherHh, nodeId, csr), sent), false)
    assert.equal(proofMatches(joinProof(secret, otherHh, 'ffffffffffffffffffff', csr), sent), false)
  })

  test('the reply proof is domain-separated from the request proof', () => {
    // Same secret, hash and id, and the "cert" equal to the CSR: still not the same MAC,
    // so a signer's reply can never be turned around into a request and vice versa.
    assert.notEqual(replyProof(secret, hh, nodeId, csr, ca), joinProof(secret, hh, nodeId, csr))
    const r = replyProof(secret, hh, nodeId, cert, ca)
    assert.match(r, /^[0-9a-f]{64}$/)
    assert.notEqual(replyProof(secret, hh, nodeId, cert, cert), r, 'the CA it hands over is covered')
    assert.notEqual(replyProof(secret, hh, nodeId, ca, cert), r, 'cert and CA are not interchangeable')
    assert.notEqual(replyProof(secret, otherHh, nodeId, cert, ca), r)
    assert.notEqual(replyProof(otherSecret, hh, nodeId, cert, ca), r)
  })

  test('random handshake hashes never collide in practice', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) seen.add(joinProof(secret, randomBytes(64), nodeId, csr))
    assert.equal(seen.size, 200)
  })
})

describe('proofMatches', () => {
  const p = joinProof(secret, hh, nodeId, csr)

  test('equal proofs match; any other value does not', () => {
    assert.equal(proofMatches(p, p), true)
    const flipped = `${p.slice(0, -1)}${p.endsWith('0') ? '1' : '0'}`
    assert.equal(proofMatches(p, flipped), false)
    assert.equal(proofMatches(p, p.slice(0, 62)), false, 'shorter')
    assert.equal(proofMatches(p, `${p}00`), false, 'longer')
  })

  test('empty or non-hex input never matches (and never throws)', () => {
    assert.equal(proofMatches('', ''), false)
    assert.equal(proofMatches(p, ''), false)
    assert.equal(proofMatches(p, 'z'.repeat(64)), false)
    assert.equal(proofMatches('zz', 'zz'), false, 'both decode to nothing')
  })
})

describe('shortCode', () => {
  test('XXX-XXX from an alphabet without look-alikes (no I, O, 0, 1)', () => {
    for (let i = 0; i < 100; i++) {
      const code = shortCode(randomBytes(32).toString('hex'))
      assert.match(code, /^[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}$/)
    }
  })

  test('deterministic per key, different for different keys', () => {
    const key = 'c'.repeat(64)
    assert.equal(shortCode(key), shortCode(key))
    const codes = new Set(Array.from({ length: 100 }, () => shortCode(randomBytes(32).toString('hex'))))
    assert.ok(codes.size >= 99, `${codes.size} distinct codes of 100`)
  })
})
