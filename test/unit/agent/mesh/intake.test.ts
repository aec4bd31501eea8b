import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkRecord, parseMessage } from '../../../../agent/mesh/intake.js'
import { MembershipTable } from '../../../../agent/mesh/membership.js'
import { CLUSTER, newIdentity, signed } from '../../../support/records.js'

describe('message intake', () => {
  it('names the broken field of a malformed message', () => {
    assert.deepEqual(parseMessage(Buffer.from('{nope')), {
      ok: false,
      reason: 'malformed',
      detail: 'not JSON',
    })
    const r = parseMessage(Buffer.from(JSON.stringify({ t: 'rec', r: { body: {}, sig: 'x' } })))
    assert.equal(r.ok, false)
    assert.match(!r.ok ? r.detail : '', /^r\.body\./)
    assert.equal(parseMessage(Buffer.from(JSON.stringify({ t: 'hello' }))).ok, false)
    assert.equal(parseMessage(Buffer.from(JSON.stringify({ t: 'suspect', incarnation: -1 }))).ok, false)
  })

  it('accepts a valid record as a parsed message', () => {
    const r = parseMessage(Buffer.from(JSON.stringify({ t: 'rec', r: signed(newIdentity()) })))
    assert.equal(r.ok, true)
  })

  it('rejects, in order: other cluster, impersonation, stale, bad signature', () => {
    const self = newIdentity()
    const peer = newIdentity()
    const table = new MembershipTable(self.id)
    const ctx = { clusterId: CLUSTER, table }
    assert.deepEqual(checkRecord(signed(peer, { cluster: 'ffffffffffffffff' }), ctx), {
      ok: false,
      reason: 'other-cluster',
    })
    const other = newIdentity()
    assert.deepEqual(checkRecord(signed(peer), { ...ctx, directFrom: other.publicKey.toString('hex') }), {
      ok: false,
      reason: 'impersonation',
    })
    const good = signed(peer)
    assert.deepEqual(checkRecord(good, { ...ctx, directFrom: peer.publicKey.toString('hex') }), { ok: true })
    table.accept(good, 0, 0)
    assert.deepEqual(checkRecord(good, ctx), { ok: false, reason: 'stale' })
    const tampered = { ...signed(peer, { heartbeat: 9 }), sig: good.sig }
    assert.deepEqual(checkRecord(tampered, ctx), { ok: false, reason: 'bad-signature' })
  })
})
