import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { JoinRefused, TRUST_LIMITS } from '../../../../agent/trust/wire.js'

describe('trust wire: join-refused naming signers', () => {
  const hint = (i: number) => ({ key: i.toString(16).padStart(64, '0'), host: '10.77.0.5', port: 49737 })
  const refusal = (signers?: unknown) => ({
    t: 'join-refused',
    reason: 'not-a-signer',
    message: 'this node holds no CA key',
    ...(signers === undefined ? {} : { signers }),
  })

  test('a refusal naming up to signerHintsMax signers parses; one naming none (an older agent) too', () => {
    assert.ok(JoinRefused.safeParse(refusal()).success)
    assert.ok(JoinRefused.safeParse(refusal([])).success)
    const most = Array.from({ length: TRUST_LIMITS.signerHintsMax }, (_, i) => hint(i))
    assert.deepEqual(JoinRefused.parse(refusal(most)).signers, most)
  })

  test('too many names, a key that is no 32-byte hex key, or a bad host or port: refused whole', () => {
    const bad = [
      Array.from({ length: TRUST_LIMITS.signerHintsMax + 1 }, (_, i) => hint(i)),
      [{ ...hint(1), key: 'ZZ'.repeat(32) }],
      [{ ...hint(1), key: 'ab' }],
      [{ ...hint(1), host: '' }],
      [{ ...hint(1), host: 'h'.repeat(254) }],
      [{ ...hint(1), port: 0 }],
      [{ ...hint(1), port: 70_000 }],
      [{ ...hint(1), port: 1.5 }],
      'not a list',
    ]
    for (const signers of bad)
      assert.equal(
        JoinRefused.safeParse(refusal(signers)).success,
        false,
        JSON.stringify(signers).slice(0, 80),
      )
  })
})
