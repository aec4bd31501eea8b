import assert from 'node:assert/strict'
import { test } from 'node:test'
import forge from 'node-forge'
import {
  generateRsaKeyPem,
  normalizeSerial,
  randomSerialHex,
  rsaSigner,
  sha256Md,
} from '../../../../agent/pki/keys.js'

test('the native signer produces exactly forge RSA SHA-256 signatures', () => {
  const keyPem = generateRsaKeyPem(2048)
  const digest = () => {
    const md = sha256Md()
    md.update('homecloud', 'utf8')
    return md
  }
  const native = rsaSigner(keyPem).sign(digest())
  const pure = (forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey).sign(digest())
  assert.equal(forge.util.bytesToHex(native), forge.util.bytesToHex(pure))
})

test('the native signer refuses anything but SHA-256', () => {
  const keyPem = generateRsaKeyPem(2048)
  const md = forge.md.sha1.create()
  md.update('x')
  assert.throws(() => rsaSigner(keyPem).sign(md), /SHA-256 only/)
})

test('serials are random, positive, 16 bytes, and survive normalisation unchanged', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 500; i++) {
    const s = randomSerialHex()
    assert.match(s, /^[1-7][0-9a-f]{31}$/)
    assert.equal(normalizeSerial(s), s)
    seen.add(s)
  }
  assert.equal(seen.size, 500)
  assert.equal(normalizeSerial('00:AB:cd'), 'abcd')
  assert.equal(normalizeSerial('000'), '0')
})
