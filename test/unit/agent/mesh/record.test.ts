import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { canonicalJson } from '../../../../agent/core/canonical.js'
import { isNewer, RecordVerifier, verifyRecord } from '../../../../agent/mesh/record.js'
import { newIdentity, signed } from '../../../support/records.js'

describe('signed node records', () => {
  const id = newIdentity()

  it('verify when untouched, even after re-serialisation in another key order', () => {
    const r = signed(id)
    assert.equal(verifyRecord(r), true)
    const reordered = JSON.parse(
      JSON.stringify({ sig: r.sig, body: Object.fromEntries(Object.entries(r.body).reverse()) }),
    )
    assert.equal(verifyRecord(reordered), true)
  })

  it('fail when any field is changed', () => {
    const r = signed(id)
    assert.equal(verifyRecord({ ...r, body: { ...r.body, name: 'evil' } }), false)
    assert.equal(verifyRecord({ ...r, body: { ...r.body, heartbeat: r.body.heartbeat + 1 } }), false)
    assert.equal(verifyRecord({ ...r, body: { ...r.body, roles: ['etcd-voter'] } }), false)
  })

  it('fail when signed by another key or when the id is not derived from the key', () => {
    const other = newIdentity()
    const forged = signed(other, { id: id.id, publicKey: id.publicKey.toString('hex') })
    assert.equal(verifyRecord(forged), false)
    const wrongId = signed(id, { id: other.id })
    assert.equal(verifyRecord(wrongId), false)
  })

  it('a verifier that remembers keys gives the same answers, again and again, and stays bounded', () => {
    const v = new RecordVerifier(2)
    const other = newIdentity()
    const good = signed(id)
    const forged = signed(other, { id: id.id, publicKey: id.publicKey.toString('hex') })
    const wrongId = signed(id, { id: other.id })
    const badKey = { ...good, body: { ...good.body, publicKey: '00'.repeat(32) } }
    for (let i = 0; i < 3; i++) {
      assert.equal(v.verify(good), true)
      assert.equal(v.verify({ ...good, body: { ...good.body, name: 'evil' } }), false)
      assert.equal(v.verify(forged), false, 'a remembered key does not vouch for another signer')
      assert.equal(v.verify(wrongId), false, 'a remembered key still checks the id')
      assert.equal(v.verify(badKey), false)
      assert.equal(v.verify(signed(other)), true)
      assert.equal(v.verify(signed(newIdentity())), true, 'past the bound it starts over')
    }
  })

  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}',
    )
  })

  it('newer means higher incarnation, or same incarnation and higher heartbeat', () => {
    assert.equal(isNewer({ incarnation: 2, heartbeat: 0 }, { incarnation: 1, heartbeat: 99 }), true)
    assert.equal(isNewer({ incarnation: 1, heartbeat: 3 }, { incarnation: 1, heartbeat: 2 }), true)
    assert.equal(isNewer({ incarnation: 1, heartbeat: 2 }, { incarnation: 1, heartbeat: 2 }), false)
  })
})
