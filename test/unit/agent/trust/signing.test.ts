import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { readCertificate } from '../../../../agent/pki/cert.js'
import { createCsr } from '../../../../agent/pki/csr.js'
import { generateRsaKeyPem } from '../../../../agent/pki/keys.js'
import type { IssueRequest } from '../../../../agent/trust/signer.js'
import { caKeyMatches, certIsOurs, issueFor, issueOwn } from '../../../../agent/trust/signing.js'
import { testCa, testClock } from '../pki/fixtures.js'

// The signer's hands, with a real CA and real CSRs: what a CSR may and may not get.

const ctx = () => ({
  ca: testCa(),
  clock: testClock(),
  validityMs: 86_400_000,
  reservedNames: ['bbbb', 'pi5-1', '10.77.0.3'],
  addresses: ['10.77.0.9'],
})
const join = (csrPem: string, name = 'pi4-2'): IssueRequest => ({
  nodeId: 'aaaa',
  name,
  csrPem,
  purpose: 'join',
})

describe('signing', () => {
  test("a clean CSR for the connection's own id gets an agent certificate naming its address", () => {
    const key = generateRsaKeyPem()
    const out = issueFor(join(createCsr({ commonName: 'aaaa', keyPem: key }).csrPem), ctx())
    assert.ok(out.ok)
    const info = readCertificate(out.certPem)
    assert.equal(info.commonName, 'aaaa')
    assert.equal(info.profile, 'agent')
    assert.deepEqual(info.ips, ['10.77.0.9'])
    assert.equal(
      certIsOurs(out.certPem, testCa().certPem, key, { commonName: 'aaaa', profile: 'agent' }),
      true,
    )
    assert.equal(
      certIsOurs(out.certPem, testCa().certPem, generateRsaKeyPem(), { commonName: 'aaaa' }),
      false,
    )
    assert.equal(certIsOurs(out.certPem, testCa().certPem, key, { commonName: 'bbbb' }), false)
  })

  test("bad CSRs are a failure with the policy's code, never a throw: another id, a reserved name, garbage", () => {
    for (const [what, csr, name] of [
      ["another node's id", createCsr({ commonName: 'bbbb' }).csrPem, 'pi4-2'],
      ["another member's name", createCsr({ commonName: 'aaaa' }).csrPem, 'pi5-1'],
      [
        'not a CSR',
        '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
        'pi4-2',
      ],
    ] as const) {
      const out = issueFor(join(csr, name), ctx())
      assert.equal(out.ok, false, what)
      assert.match(out.ok ? '' : out.message, /^PKI_[A-Z_]+: /, what)
    }
  })

  test('a signer issues its own certificates without any request; the CA key is recognised', () => {
    const key = generateRsaKeyPem()
    const own = issueOwn('agent', { nodeId: 'aaaa', nodeName: 'pi4-2', host: '10.77.0.9' }, key, ctx())
    assert.equal(readCertificate(own.certPem).commonName, 'aaaa')
    const kubelet = issueOwn('kubelet', { nodeId: 'aaaa', nodeName: 'pi4-2', host: '10.77.0.9' }, key, ctx())
    assert.equal(readCertificate(kubelet.certPem).commonName, 'system:node:pi4-2')
    assert.equal(caKeyMatches(testCa().certPem, testCa().keyPem), true)
    assert.equal(caKeyMatches(testCa().certPem, key), false)
  })
})
