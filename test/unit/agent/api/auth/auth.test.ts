import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Sessions } from '../../../../../agent/api/auth/sessions.js'
import { manualClock } from '../../../../../agent/core/clock.js'
import { generatePassword, hashPassword, verifyPassword } from '../../../../../agent/core/password.js'

describe('status page password', () => {
  it('verifies the right password only, and never stores it in clear', async () => {
    const pw = generatePassword()
    const hash = await hashPassword(pw)
    assert.ok(!hash.includes(pw))
    assert.equal(await verifyPassword(pw, hash), true)
    assert.equal(await verifyPassword(`${pw}x`, hash), false)
    assert.equal(await verifyPassword(pw, 'not-a-hash'), false)
    assert.equal(await verifyPassword('x'.repeat(5000), hash), false)
  })
})

describe('sessions', () => {
  it('expire, are bounded, and bind a CSRF token', () => {
    const clock = manualClock()
    const sessions = new Sessions(clock, 1000, 2)
    const a = sessions.create()
    assert.equal(sessions.get(a.id), a)
    assert.equal(sessions.csrfMatches(a, a.csrf), true)
    assert.equal(sessions.csrfMatches(a, 'forged'), false)
    assert.equal(sessions.csrfMatches(a, undefined), false)
    sessions.create()
    sessions.create()
    assert.equal(sessions.get(a.id), undefined, 'the oldest made room')
    const b = sessions.create()
    clock.advance(1001)
    assert.equal(sessions.get(b.id), undefined, 'expired')
    assert.equal(sessions.get(undefined), undefined)
  })
})
