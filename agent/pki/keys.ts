import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  privateEncrypt,
  type RSAKeyPairOptions,
  randomBytes,
} from 'node:crypto'
import { promisify } from 'node:util'
import forge from 'node-forge'

// Keys are made by Node's native crypto (fast, constant-time) and handed to node-forge
// as PEM, because forge's X.509 code is what builds and signs our certificates.

export const caKeyBits = 3072
export const leafKeyBits = 2048
/** Below this a request is refused; tests never need less, since native generation is fast. */
export const minKeyBits = 2048
export const serialBytes = 16

function rsaKeyOptions(bits: number): RSAKeyPairOptions<'pem', 'pem'> {
  return {
    modulusLength: bits,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }
}

/** A new RSA private key as PKCS#8 PEM (accepted by etcd, Kubernetes, OpenSSL and forge). */
export function generateRsaKeyPem(bits: number = leafKeyBits): string {
  return generateKeyPairSync('rsa', rsaKeyOptions(bits)).privateKey
}

const generateKeyPairAsync = promisify(generateKeyPair)

/** The same, off the event loop: for agents making keys while they serve (the coordinator). */
export async function generateRsaKeyPemAsync(bits: number = leafKeyBits): Promise<string> {
  return (await generateKeyPairAsync('rsa', rsaKeyOptions(bits))).privateKey
}

/** The SPKI PEM of a private key's public half. */
export function publicKeyPemOf(keyPem: string): string {
  return createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }).toString()
}

/** What forge's cert.sign / csr.sign / revocation signing need from a private key. */
export interface RsaSigner {
  sign(md: forge.md.MessageDigest): string
}

// DER prefix of DigestInfo{sha256, digest} (RFC 8017 §9.2 note 1).
const sha256DigestInfoPrefix = Buffer.from('3031300d060960864801650304020105000420', 'hex')

/**
 * A forge-compatible signer backed by native RSA: the same PKCS#1 v1.5 SHA-256 bytes as
 * forge's own key.sign(md) (the scheme is deterministic), ~50x faster, which matters on
 * a small ARM board signing with a 3072-bit CA key. Only SHA-256 is accepted, so
 * nothing can slip back to forge's SHA-1 default.
 */
export function rsaSigner(keyPem: string): RsaSigner {
  const key = createPrivateKey(keyPem)
  return {
    sign(md) {
      if (md.algorithm !== 'sha256') throw new Error(`refusing to sign with ${md.algorithm}; SHA-256 only`)
      const digest = Buffer.from(md.digest().getBytes(), 'binary')
      const block = Buffer.concat([sha256DigestInfoPrefix, digest])
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, block).toString('binary')
    },
  }
}

export function forgePublicKeyOf(keyPem: string): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromPem(publicKeyPemOf(keyPem)) as forge.pki.rsa.PublicKey
}

/**
 * A random positive serial as lowercase hex. The first byte is kept in 0x10..0x7f so the
 * DER INTEGER is positive, minimally encoded, and its hex has no leading zero (the same
 * string comes back from forge, OpenSSL and Node after normalizeSerial).
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(serialBytes)
  bytes[0] = (bytes[0]! & 0x7f) | 0x10
  return bytes.toString('hex')
}

/** Serials compare as lowercase hex without leading zeros or separators. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').toLowerCase().replace(/^0+/, '')
  return hex === '' ? '0' : hex
}

export function sha256Md(): forge.md.MessageDigest {
  return forge.md.sha256.create()
}

/** Signs a forge certificate or CSR with SHA-256 (never forge's SHA-1 default). */
export function signSha256(
  target: { sign(key: forge.pki.PrivateKey, md?: forge.md.MessageDigest): void },
  keyPem: string,
): void {
  target.sign(rsaSigner(keyPem) as unknown as forge.pki.PrivateKey, sha256Md())
}
