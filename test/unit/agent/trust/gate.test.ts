import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { manualClock } from '../../../../agent/core/clock.js'
import { nextRevocations, signRevocations } from '../../../../agent/pki/revocations.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import { CertBook } from '../../../../agent/trust/cert-book.js'
import { certificateGate } from '../../../../agent/trust/gate.js'
import { startMs, testCa } from '../pki/fixtures.js'

const cert = (nodeId: string) =>
  issueCertificate({
    ca: testCa(),
    profile: 'agent',
    identity: { nodeId, nodeName: `n-${nodeId}`, ips: ['10.77.0.2'] },
    clock: manualClock(startMs),
    validityMs: 86_400_000,
  })

describe('certificate gate', () => {
  test('a joiner admits nobody; a member admits members, not strangers, not the revoked', () => {
    const clock = manualClock(startMs)
    const book = new CertBook(testCa().certPem, 'c-test', () => clock.nowMs())
    const gate = certificateGate(book, 'self')
    const body = (id: string) => ({ id }) as never
    assert.equal(gate.canAdmit(), false, 'no certificate of our own yet')
    assert.ok(book.add('self', cert('self').certPem).ok)
    assert.equal(gate.canAdmit(), true)
    const peer = cert('peer')
    assert.ok(book.add('peer', peer.certPem).ok)
    assert.equal(gate.admits(body('self')), 'member')
    assert.equal(gate.admits(body('peer')), 'member')
    assert.equal(gate.admits(body('stranger')), 'uncertified')
    const list = nextRevocations(
      'c-test',
      [],
      [{ serial: peer.serial, nodeId: 'peer', revokedAtMs: 1, reason: 't' }],
    )
    book.adoptRevocations(signRevocations(list, testCa().keyPem))
    assert.equal(gate.admits(body('peer')), 'revoked')
  })
})
