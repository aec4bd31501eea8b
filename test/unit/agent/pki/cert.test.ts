import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { createCa } from '../../../../agent/pki/ca.js'
import {
  type CertFailureReason,
  type CertVerification,
  certFailureError,
  readCertificate,
  verifyCertificate,
} from '../../../../agent/pki/cert.js'
import { issueCertificate } from '../../../../agent/pki/sign.js'
import {
  derToPem,
  IDENTITIES,
  node,
  openssl,
  patchPem,
  pemToDer,
  startMs,
  testCa,
  testClock,
  withTempDir,
} from './fixtures.js'

function failed(v: CertVerification, reason: CertFailureReason) {
  assert.equal(v.ok, false, 'expected a failure')
  if (!v.ok) assert.equal(v.reason, reason, v.message)
}

const issueAgent = (validityMs?: number) =>
  issueCertificate({
    ca: testCa(),
    profile: 'agent',
    identity: IDENTITIES.agent,
    clock: testClock(),
    validityMs,
  })

describe('verifyCertificate', () => {
  test('a good certificate: identity, serial, window and profile', () => {
    const issued = issueAgent()
    const v = verifyCertificate(issued.certPem, testCa().certPem, { nowMs: startMs })
    assert.ok(v.ok, !v.ok ? v.message : '')
    assert.equal(v.commonName, node.nodeId)
    assert.deepEqual(v.organizations, ['homecloud:nodes'])
    assert.equal(v.serial, issued.serial)
    assert.equal(v.notAfterMs, issued.notAfterMs)
    assert.equal(v.profile, 'agent')
    assert.deepEqual(v.ips, ['10.77.0.2'])
    assert.equal(v.isCa, false)
  })

  test('a flipped byte in the signature → bad-signature', () => {
    const der = pemToDer(issueAgent().certPem)
    der[der.length - 5]! ^= 0x01
    failed(verifyCertificate(derToPem(der), testCa().certPem, { nowMs: startMs }), 'bad-signature')
  })

  test('a changed CN → bad-signature', () => {
    const issued = issueCertificate({
      ca: testCa(),
      profile: 'agent',
      identity: { ...IDENTITIES.agent, nodeId: 'node-aaa' },
      clock: testClock(),
    })
    const forged = patchPem(issued.certPem, 'node-aaa', 'node-bbb')
    assert.equal(readCertificate(forged).commonName, 'node-bbb')
    failed(verifyCertificate(forged, testCa().certPem, { nowMs: startMs }), 'bad-signature')
  })

  test('expired and not-yet-valid, on a manual clock', () => {
    const clock = testClock()
    const issued = issueCertificate({
      ca: testCa(),
      profile: 'admin',
      identity: {},
      clock,
      validityMs: 60_000,
    })
    assert.ok(verifyCertificate(issued.certPem, testCa().certPem, { nowMs: clock.nowMs() }).ok)
    clock.advance(2 * 60_000)
    const v = verifyCertificate(issued.certPem, testCa().certPem, { nowMs: clock.nowMs() })
    failed(v, 'expired')
    if (!v.ok) {
      assert.equal(v.commonName, 'homecloud-admin')
      const err = certFailureError(v)
      assert.ok(err instanceof HomecloudError && err.code === 'PKI_EXPIRED')
    }
    failed(
      verifyCertificate(issued.certPem, testCa().certPem, { nowMs: issued.notBeforeMs - 1 }),
      'not-yet-valid',
    )
  })

  test('revoked by serial, in any case', () => {
    const issued = issueAgent()
    const v = verifyCertificate(issued.certPem, testCa().certPem, {
      nowMs: startMs,
      revoked: [issued.serial.toUpperCase()],
    })
    failed(v, 'revoked')
    if (!v.ok) assert.equal(certFailureError(v).code, 'PKI_REVOKED')
    assert.ok(verifyCertificate(issued.certPem, testCa().certPem, { nowMs: startMs, revoked: ['1234'] }).ok)
  })

  test('malformed PEM → malformed', () => {
    const good = issueAgent().certPem
    for (const bad of [
      '',
      'hello',
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
      good.slice(0, good.length / 2),
    ]) {
      failed(verifyCertificate(bad, testCa().certPem, { nowMs: startMs }), 'malformed')
    }
    assert.throws(
      () => readCertificate('hello'),
      (e: unknown) => e instanceof HomecloudError && e.code === 'PKI_CERT_INVALID',
    )
  })

  test("another cluster's CA, or a foreign EC certificate → wrong-ca", async () => {
    const otherCa = createCa({
      clusterId: 'c-other',
      clusterName: 'other',
      clock: testClock(),
      keyBits: 2048,
    })
    const foreign = issueCertificate({
      ca: otherCa,
      profile: 'agent',
      identity: IDENTITIES.agent,
      clock: testClock(),
    })
    failed(verifyCertificate(foreign.certPem, testCa().certPem, { nowMs: startMs }), 'wrong-ca')
    failed(verifyCertificate(testCa().certPem, otherCa.certPem, { nowMs: startMs }), 'wrong-ca')

    await withTempDir(async (dir) => {
      const made = await openssl(
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          'k.pem',
          '-subj',
          '/CN=ec',
          '-days',
          '1',
          '-out',
          'ec.crt',
        ],
        dir,
      )
      assert.equal(made.exitCode, 0, made.all)
      const ec = await readFile(join(dir, 'ec.crt'), 'utf8')
      failed(verifyCertificate(ec, testCa().certPem, { nowMs: startMs }), 'wrong-ca')
    })
  })
})
