import { createECDH, createPrivateKey, createPublicKey, hkdfSync } from 'node:crypto'

// The service-account signing key every API server and controller manager must share.
// Instead of shipping one more secret to each new voter, every voter derives the same
// P-256 key from the CA key it already holds (HKDF, a fixed label): a voter replaced at
// 3 a.m. signs tokens the others accept, and a worker, which never has the CA key,
// cannot make one. kube-apiserver accepts ES256 service-account keys.

const label = 'homecloud service-account signing key v1'
/** Order of the P-256 group: a private scalar must lie in [1, n-1]. */
const p256Order = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

export interface ServiceAccountKey {
  privateKeyPem: string
  publicKeyPem: string
}

export function deriveServiceAccountKey(caKeyPem: string): ServiceAccountKey {
  const caDer = createPrivateKey(caKeyPem).export({ type: 'pkcs8', format: 'der' })
  // 48 bytes then reduced: the bias of the reduction is below 2^-128.
  const okm = Buffer.from(hkdfSync('sha256', caDer, Buffer.from('homecloud'), Buffer.from(label), 48))
  const scalar = (BigInt(`0x${okm.toString('hex')}`) % (p256Order - 1n)) + 1n
  const d = Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex')
  const ecdh = createECDH('prime256v1')
  ecdh.setPrivateKey(d)
  const pub = ecdh.getPublicKey() // 0x04 ‖ x ‖ y
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    d: d.toString('base64url'),
    x: pub.subarray(1, 33).toString('base64url'),
    y: pub.subarray(33, 65).toString('base64url'),
  }
  const key = createPrivateKey({ key: jwk, format: 'jwk' })
  return {
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
  }
}
