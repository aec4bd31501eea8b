import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { HomecloudError } from '../../core/errors.js'
import { writeFileAtomic } from '../../core/files.js'

// The node's WireGuard key pair (X25519). The private key stays in the state directory
// (0600); the public key is published on the node's own Node object, which only this node
// may change (NodeRestriction), so peers learn it through the API server they already
// trust. A lost state directory is a new node with a new key, like its other identities.

export interface WireguardKeys {
  /** 32 raw bytes each. */
  privateKey: Buffer
  publicKey: Buffer
}

/** PKCS#8 wrapping of a raw X25519 private key (RFC 8410): what node:crypto imports. */
const pkcs8X25519Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex')

const rawOf = (b64url: string | undefined): Buffer => Buffer.from(b64url ?? '', 'base64url')

export function generateWireguardKeys(): WireguardKeys {
  const { privateKey } = generateKeyPairSync('x25519')
  return keysFromPrivate(rawOf(privateKey.export({ format: 'jwk' }).d))
}

/** The public key of a raw 32-byte X25519 private key. */
export function keysFromPrivate(privateKey: Buffer): WireguardKeys {
  if (privateKey.length !== 32) throw new Error('a WireGuard private key is 32 bytes')
  const key = createPrivateKey({
    key: Buffer.concat([pkcs8X25519Prefix, privateKey]),
    format: 'der',
    type: 'pkcs8',
  })
  return { privateKey, publicKey: rawOf(createPublicKey(key).export({ format: 'jwk' }).x) }
}

/** A WireGuard key as written in configs and annotations: 44 characters of base64. */
export function parseWireguardKey(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return null
  const raw = Buffer.from(text, 'base64')
  return raw.length === 32 ? raw : null
}

/** The node's keys from `file`, made (0600) on first use. */
export async function loadOrCreateWireguardKeys(file: string): Promise<WireguardKeys> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (text === null) {
    const keys = generateWireguardKeys()
    await writeFileAtomic(file, `${keys.privateKey.toString('base64')}\n`, 0o600)
    return keys
  }
  const raw = parseWireguardKey(text.trim())
  if (!raw) {
    throw new HomecloudError(
      'PODNET_FAILED',
      `${file} does not hold a WireGuard private key (44 characters of base64)`,
      `remove ${file}: the node makes a new key and publishes it on its Node`,
    )
  }
  return keysFromPrivate(raw)
}
