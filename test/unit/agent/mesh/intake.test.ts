import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseMessage } from '../../../../agent/mesh/intake.js'
import { newIdentity, signed } from '../../../support/records.js'

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
})
