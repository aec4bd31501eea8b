import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { describe, it } from 'node:test'
import { deriveServiceAccountKey } from '../../../../agent/kube/sa-key.js'
import { generateRsaKeyPem } from '../../../../agent/pki/keys.js'

describe('deriveServiceAccountKey', () => {
  const caKey = generateRsaKeyPem(2048)
  it('every voter holding the same CA key derives the same P-256 key', () => {
    const a = deriveServiceAccountKey(caKey)
    const b = deriveServiceAccountKey(caKey)
    assert.equal(a.privateKeyPem, b.privateKeyPem)
    const key = createPrivateKey(a.privateKeyPem)
    assert.equal(key.asymmetricKeyType, 'ec')
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1')
    const sig = sign('sha256', Buffer.from('token'), key)
    assert.ok(verify('sha256', Buffer.from('token'), createPublicKey(a.publicKeyPem), sig))
  })
  it('another CA key gives another key', () => {
    const other = deriveServiceAccountKey(generateRsaKeyPem(2048))
    assert.notEqual(other.privateKeyPem, deriveServiceAccountKey(caKey).privateKeyPem)
  })
})
