import assert from 'node:assert/strict'
import { test } from 'node:test'
import { needsRenewal, renewalDueAt } from '../../../../agent/pki/renewal.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import { testCa, testClock } from './fixtures.js'

test('renewal is due after two thirds of the lifetime', () => {
  assert.equal(renewalDueAt(0, 3000), 2000)
  assert.equal(renewalDueAt(1000, 4000), 3000)
  assert.equal(needsRenewal({ notBeforeMs: 0, notAfterMs: 3000 }, 1999), false)
  assert.equal(needsRenewal({ notBeforeMs: 0, notAfterMs: 3000 }, 2000), true)
  assert.equal(needsRenewal({ notBeforeMs: 0, notAfterMs: 3000 }, 5000), true)
})

test('needsRenewal reads a PEM certificate', () => {
  const clock = testClock()
  const issued = issueCertificate({
    ca: testCa(),
    profile: 'admin',
    identity: {},
    clock,
    validityMs: 90_000_000,
  })
  const due = renewalDueAt(issued.notBeforeMs, issued.notAfterMs)
  assert.equal(needsRenewal(issued.certPem, due - 1), false)
  assert.equal(needsRenewal(issued.certPem, due), true)
})
