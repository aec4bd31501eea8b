import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decideJoin, decideRenewal, type JoinFacts } from '../../../../agent/trust/decide-join.js'

const base: JoinFacts = { policy: 'auto', proofOk: true, revoked: false, approved: false }

/** Every combination of the facts: 2 policies × 2^3 booleans. */
function allFacts(): JoinFacts[] {
  const out: JoinFacts[] = []
  for (const policy of ['auto', 'approve'] as const)
    for (const proofOk of [false, true])
      for (const revoked of [false, true])
        for (const approved of [false, true]) out.push({ policy, proofOk, revoked, approved })
  return out
}

describe('decideJoin', () => {
  test('the ordinary cases', () => {
    assert.deepEqual(decideJoin(base), { kind: 'sign' })
    assert.deepEqual(decideJoin({ ...base, policy: 'approve' }), { kind: 'pending' })
    assert.deepEqual(decideJoin({ ...base, policy: 'approve', approved: true }), { kind: 'sign' })
    assert.deepEqual(decideJoin({ ...base, proofOk: false }), { kind: 'refuse', reason: 'bad-proof' })
    assert.deepEqual(decideJoin({ ...base, revoked: true }), { kind: 'refuse', reason: 'revoked' })
  })

  test('a revoked node gets nothing: not by proof or approval', () => {
    for (const f of allFacts().filter((x) => x.revoked)) {
      assert.deepEqual(decideJoin(f), { kind: 'refuse', reason: 'revoked' }, JSON.stringify(f))
    }
  })

  test('approval never replaces the secret: no proof → bad-proof', () => {
    for (const f of allFacts().filter((x) => !x.revoked && !x.proofOk)) {
      assert.deepEqual(decideJoin(f), { kind: 'refuse', reason: 'bad-proof' }, JSON.stringify(f))
    }
  })

  test('"sign" only ever follows from a proof, no revocation, and (auto or approved)', () => {
    for (const f of allFacts()) {
      const d = decideJoin(f)
      if (d.kind === 'sign') {
        assert.ok(f.proofOk && !f.revoked, JSON.stringify(f))
        assert.ok(f.policy === 'auto' || f.approved, JSON.stringify(f))
      }
      if (d.kind === 'pending') {
        assert.deepEqual([f.policy, f.proofOk, f.approved, f.revoked], ['approve', true, false, false])
      }
    }
  })

  test('pure: the same facts, the same decision, facts untouched', () => {
    for (const f of allFacts()) {
      const copy = { ...f }
      assert.deepEqual(decideJoin(f), decideJoin(copy))
      assert.deepEqual(f, copy)
    }
  })
})

describe('decideRenewal', () => {
  test('a member renewing with a valid certificate is signed, whatever the join policy', () => {
    assert.deepEqual(decideRenewal({ revoked: false, member: true }), { kind: 'sign' })
  })

  test('no valid certificate → no-valid-cert; revoked → revoked, even with a certificate', () => {
    assert.deepEqual(decideRenewal({ revoked: false, member: false }), {
      kind: 'refuse',
      reason: 'no-valid-cert',
    })
    for (const member of [false, true])
      assert.deepEqual(decideRenewal({ revoked: true, member }), { kind: 'refuse', reason: 'revoked' })
  })
})
