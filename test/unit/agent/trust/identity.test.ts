import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { identityStart, identityStep } from '../../../../agent/trust/identity.js'
import { conn } from './fixtures.js'

const cert = { notBeforeMs: 0, notAfterMs: 3000, serial: '1' }
const due = 2000

describe('node identity', () => {
  test('renewal is due at two thirds of the lifetime: a signer renews itself, others ask every tick', () => {
    const s = identityStart(cert)
    assert.deepEqual(identityStep(s, { kind: 'tick', signer: false }, due - 1).effects, [])
    assert.deepEqual(identityStep(s, { kind: 'tick', signer: true }, due).effects, [{ kind: 'self-renew' }])
    const asking = identityStep(s, { kind: 'tick', signer: false }, due)
    assert.deepEqual(asking.effects, [{ kind: 'ask-renewal' }])
    assert.equal(asking.state.renewing, true)
    assert.deepEqual(identityStep(asking.state, { kind: 'tick', signer: false }, due + 2000).effects, [
      { kind: 'ask-renewal' },
    ])
  })

  test('only our own renewal, while renewing, is adopted; adopted ends the renewal with the new validity', () => {
    const s = identityStep(identityStart(cert), { kind: 'tick', signer: false }, due).state
    const notOurs = identityStep(s, { kind: 'renewed', conn: conn(), certPem: 'X', ours: false }, due)
    assert.deepEqual(notOurs.effects, [])
    const ours = identityStep(s, { kind: 'renewed', conn: conn(), certPem: 'NEW', ours: true }, due)
    assert.deepEqual(ours.effects, [{ kind: 'adopt', certPem: 'NEW' }])
    const next = { notBeforeMs: due, notAfterMs: due + 3000, serial: '2' }
    const done = identityStep(s, { kind: 'adopted', cert: next }, due).state
    assert.equal(done.renewing, false)
    assert.deepEqual(done.cert, next)
    const late = identityStep(done, { kind: 'renewed', conn: conn(), certPem: 'NEW2', ours: true }, due)
    assert.deepEqual(late.effects, [], 'a second signer answering later changes nothing')
  })

  test('node certificates: resolved once by our own certificate; a final refusal or a timeout rejects', () => {
    const asked = identityStep(identityStart(cert), { kind: 'node-cert-asked', profile: 'kubelet' }, 0)
    assert.deepEqual(asked.effects, [{ kind: 'ask-node-cert', profile: 'kubelet' }])
    const s = asked.state
    assert.deepEqual(
      identityStep(s, { kind: 'node-cert', profile: 'kubelet', certPem: 'K', ours: false }, 0).effects,
      [],
    )
    assert.deepEqual(
      identityStep(s, { kind: 'node-cert', profile: 'kwok', certPem: 'K', ours: true }, 0).effects,
      [],
    )
    const got = identityStep(s, { kind: 'node-cert', profile: 'kubelet', certPem: 'K', ours: true }, 0)
    assert.deepEqual(got.effects, [{ kind: 'resolve-node-cert', profile: 'kubelet', certPem: 'K' }])
    assert.equal(got.state.waits.size, 0)
    // The signer may not know our record yet: "unknown-node" is not final.
    const unknown = {
      kind: 'node-cert-refused',
      profile: 'kubelet',
      reason: 'unknown-node',
      message: 'retry',
    } as const
    assert.deepEqual(identityStep(s, unknown, 0).effects, [])
    const refused = identityStep(s, { ...unknown, reason: 'name-not-own' }, 0)
    assert.equal(refused.effects[0]?.kind, 'reject-node-cert')
    const timeout = identityStep(s, { kind: 'node-cert-timeout', profile: 'kubelet' }, 0)
    assert.deepEqual(timeout.effects[0], {
      kind: 'reject-node-cert',
      profile: 'kubelet',
      reason: 'no-answer',
      message: 'no signer answered a kubelet certificate request',
    })
    assert.deepEqual(
      identityStep(got.state, { kind: 'node-cert-timeout', profile: 'kubelet' }, 0).effects,
      [],
    )
  })
})
