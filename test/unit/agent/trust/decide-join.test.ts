import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  answersWithHeld,
  decideJoin,
  decideJoinAtMember,
  decideRenewal,
  type HeldFacts,
  type JoinFacts,
} from '../../../../agent/trust/decide-join.js'

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

/** Every combination of what a node found out about a join for a certificate it may hold. */
function allHeld(): HeldFacts[] {
  const out: HeldFacts[] = []
  for (const proofOk of [false, true])
    for (const revoked of [false, true])
      for (const member of [false, true])
        for (const heldSameKey of [false, true]) out.push({ proofOk, revoked, member, heldSameKey })
  return out
}

describe('answersWithHeld (signed once: a held certificate is handed back, never signed again)', () => {
  test('only a proven, unrevoked joiner whose own key holds a valid certificate', () => {
    for (const f of allHeld())
      assert.equal(
        answersWithHeld(f),
        f.proofOk && !f.revoked && f.member && f.heldSameKey,
        JSON.stringify(f),
      )
  })
})

describe('decideJoinAtMember (a node without the CA key, asked to sign)', () => {
  test('hands back the certificate a signer issued when it holds it for this key', () => {
    const f = { proofOk: true, revoked: false, member: true, heldSameKey: true }
    assert.deepEqual(decideJoinAtMember(f), { kind: 'answer-held' })
  })

  test('a certificate for another key (a reinstalled machine re-joining), none, or a revoked one: no signer here', () => {
    for (const f of [
      { proofOk: true, revoked: false, member: true, heldSameKey: false },
      { proofOk: true, revoked: false, member: false, heldSameKey: false },
    ])
      assert.deepEqual(decideJoinAtMember(f), { kind: 'not-a-signer', nameSigners: true }, JSON.stringify(f))
    assert.deepEqual(decideJoinAtMember({ proofOk: true, revoked: true, member: false, heldSameKey: true }), {
      kind: 'not-a-signer',
      nameSigners: false,
    })
  })

  test('without the join secret nothing is handed out: no certificate, no signer named', () => {
    for (const f of allHeld().filter((x) => !x.proofOk))
      assert.deepEqual(decideJoinAtMember(f), { kind: 'not-a-signer', nameSigners: false }, JSON.stringify(f))
  })

  test('it never answers what a signer would refuse or sign anew (the same rule as the signer)', () => {
    for (const f of allHeld()) {
      const d = decideJoinAtMember(f)
      assert.equal(d.kind === 'answer-held', answersWithHeld(f), JSON.stringify(f))
    }
  })
})
