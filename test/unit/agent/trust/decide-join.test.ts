import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decideJoin, type JoinFacts } from '../../../../agent/trust/decide-join.js'

const base: JoinFacts = {
  policy: 'auto',
  proofOk: true,
  idMatchesConnection: true,
  revoked: false,
  approved: false,
  renewalOf: 'none',
}

/** Every combination of the facts: 2 policies × 2^4 booleans × 2 renewal states. */
function allFacts(): JoinFacts[] {
  const out: JoinFacts[] = []
  for (const policy of ['auto', 'approve'] as const)
    for (const proofOk of [false, true])
      for (const idMatchesConnection of [false, true])
        for (const revoked of [false, true])
          for (const approved of [false, true])
            for (const renewalOf of ['none', 'valid-cert'] as const)
              out.push({ policy, proofOk, idMatchesConnection, revoked, approved, renewalOf })
  return out
}

describe('decideJoin', () => {
  test('the ordinary cases', () => {
    assert.deepEqual(decideJoin(base), { kind: 'sign' })
    assert.deepEqual(decideJoin({ ...base, policy: 'approve' }), { kind: 'pending' })
    assert.deepEqual(decideJoin({ ...base, policy: 'approve', approved: true }), { kind: 'sign' })
    assert.deepEqual(decideJoin({ ...base, proofOk: false }), { kind: 'refuse', reason: 'bad-proof' })
    assert.deepEqual(decideJoin({ ...base, revoked: true }), { kind: 'refuse', reason: 'revoked' })
    assert.deepEqual(decideJoin({ ...base, idMatchesConnection: false }), {
      kind: 'refuse',
      reason: 'id-mismatch',
    })
    assert.deepEqual(decideJoin({ ...base, proofOk: false, renewalOf: 'valid-cert' }), { kind: 'sign' })
  })

  test('an id that is not the connection key is refused whatever else holds', () => {
    for (const f of allFacts().filter((x) => !x.idMatchesConnection)) {
      assert.deepEqual(decideJoin(f), { kind: 'refuse', reason: 'id-mismatch' }, JSON.stringify(f))
    }
  })

  test('a revoked node gets nothing: not by proof, approval or renewal', () => {
    for (const f of allFacts().filter((x) => x.idMatchesConnection && x.revoked)) {
      assert.deepEqual(decideJoin(f), { kind: 'refuse', reason: 'revoked' }, JSON.stringify(f))
    }
  })

  test('approval never replaces the secret: no proof and no valid certificate → bad-proof', () => {
    for (const f of allFacts().filter(
      (x) => x.idMatchesConnection && !x.revoked && !x.proofOk && x.renewalOf === 'none',
    )) {
      assert.deepEqual(decideJoin(f), { kind: 'refuse', reason: 'bad-proof' }, JSON.stringify(f))
    }
  })

  test('a member renewing with a valid certificate is signed under any policy, proof or not', () => {
    for (const f of allFacts().filter(
      (x) => x.idMatchesConnection && !x.revoked && x.renewalOf === 'valid-cert',
    )) {
      assert.deepEqual(decideJoin(f), { kind: 'sign' }, JSON.stringify(f))
    }
  })

  test('"sign" only ever follows from (proof or renewal), the right id, and no revocation', () => {
    for (const f of allFacts()) {
      const d = decideJoin(f)
      if (d.kind === 'sign') {
        assert.ok(f.idMatchesConnection && !f.revoked, JSON.stringify(f))
        assert.ok(f.renewalOf === 'valid-cert' || f.proofOk, JSON.stringify(f))
        if (f.renewalOf === 'none') assert.ok(f.policy === 'auto' || f.approved, JSON.stringify(f))
      }
      if (d.kind === 'pending') {
        assert.deepEqual(
          [f.policy, f.proofOk, f.approved, f.revoked, f.renewalOf, f.idMatchesConnection],
          ['approve', true, false, false, 'none', true],
        )
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
