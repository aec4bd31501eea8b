import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'

/**
 * A node's identity: one ed25519 key, kept in the state directory. The same 32-byte
 * seed also derives the hyperswarm Noise key pair, so the key a peer proves in the
 * mesh handshake is the key that signs this node's records.
 */
export interface Identity {
  id: string
  publicKey: Buffer
  privateKey: KeyObject
  /** The 32-byte ed25519 seed (secret); hyperswarm derives its key pair from it. */
  seed: Buffer
}

/** Node ids are the first 80 bits of sha256(public key), hex: short enough to read, long enough not to forge. */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 20)
}

export async function loadOrCreateIdentity(
  keyPath: string,
): Promise<{ identity: Identity; created: boolean }> {
  let pem: string | undefined
  try {
    pem = await readFile(keyPath, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new HomecloudError('IDENTITY_INVALID', `cannot read ${keyPath}: ${(err as Error).message}`)
    }
  }
  if (pem !== undefined) return { identity: identityFromPem(pem, keyPath), created: false }
  const { privateKey } = generateKeyPairSync('ed25519')
  const out = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  await writeFileAtomic(keyPath, out, 0o600)
  return { identity: identityFromPem(out, keyPath), created: true }
}

export function identityFromPem(pem: string, where = 'key'): Identity {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (err) {
    throw new HomecloudError(
      'IDENTITY_INVALID',
      `${where} is not a PEM private key: ${(err as Error).message}`,
      'move the file away to create a new identity (the node will join as a new member)',
    )
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new HomecloudError(
      'IDENTITY_INVALID',
      `${where} holds a ${privateKey.asymmetricKeyType} key, not ed25519`,
    )
  }
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  const seed = Buffer.from(der.subarray(der.length - 32))
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const publicKey = Buffer.from(spki.subarray(spki.length - 32))
  return { id: nodeIdFromPublicKey(publicKey), publicKey, privateKey, seed }
}
