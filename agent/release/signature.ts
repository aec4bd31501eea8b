import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'

// Release signatures: an ed25519 key the cluster trusts signs the exact manifest bytes
// (so the release id, their sha256, is what is signed), under a domain tag so a release
// signature can never be replayed as any other homecloud signature. The signature lives
// beside the manifest in release.sig, not inside it: the id stays the hash of the manifest.

export const SIGNATURE_FILE = 'release.sig'
const DOMAIN = 'homecloud/release/v1\n'
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export const ReleaseKeyHex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a release public key is 64 lower-case hex characters')

export const ReleaseSignature = z
  .object({
    v: z.literal(1),
    /** The signer's ed25519 public key, hex. */
    key: ReleaseKeyHex,
    sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'an ed25519 signature in base64'),
  })
  .strict()
export type ReleaseSignature = z.infer<typeof ReleaseSignature>

export interface ReleaseKey {
  privateKey: KeyObject
  /** hex of the 32-byte public key: what `init --release-key` and `release trust` take. */
  publicHex: string
}

export function publicHexOf(key: KeyObject): string {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return Buffer.from(spki.subarray(spki.length - 32)).toString('hex')
}

export function generateReleaseKey(): ReleaseKey {
  const { privateKey } = generateKeyPairSync('ed25519')
  return { privateKey, publicHex: publicHexOf(privateKey) }
}

/** `release keygen`: the private key (PKCS#8 PEM, 0600) and KEY.pub with the public hex. */
export async function writeReleaseKey(path: string, key: ReleaseKey): Promise<void> {
  await writeFileAtomic(path, key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600)
  await writeFileAtomic(`${path}.pub`, `${key.publicHex}\n`, 0o644)
}

export async function readReleaseKey(path: string): Promise<ReleaseKey> {
  const pem = await readFile(path, 'utf8').catch((err: Error) => {
    throw new HomecloudError(
      'RELEASE_KEY_INVALID',
      `cannot read ${path}: ${err.message}`,
      'make one with `homecloud release keygen --out FILE`',
    )
  })
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (err) {
    throw new HomecloudError(
      'RELEASE_KEY_INVALID',
      `${path} is not a PEM private key: ${(err as Error).message}`,
    )
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new HomecloudError(
      'RELEASE_KEY_INVALID',
      `${path} holds a ${key.asymmetricKeyType} key, not ed25519`,
    )
  return { privateKey: key, publicHex: publicHexOf(key) }
}

/** A public key given as hex or as a file holding the hex (KEY.pub). */
export async function readPublicKeyArg(arg: string): Promise<string> {
  const text = ReleaseKeyHex.safeParse(arg).success ? arg : await readFile(arg, 'utf8').catch(() => '')
  const hex = text.trim()
  if (!ReleaseKeyHex.safeParse(hex).success)
    throw new HomecloudError(
      'RELEASE_KEY_INVALID',
      `${arg} is neither a release public key (64 hex) nor a file holding one`,
      'pass KEY.pub as written by `homecloud release keygen`',
    )
  return hex
}

const signedBytes = (manifestBytes: Buffer) => Buffer.concat([Buffer.from(DOMAIN), manifestBytes])

export function signManifest(manifestBytes: Buffer, key: ReleaseKey): ReleaseSignature {
  return {
    v: 1,
    key: key.publicHex,
    sig: sign(null, signedBytes(manifestBytes), key.privateKey).toString('base64'),
  }
}

export type SignatureCheck =
  | { ok: true; key: string }
  | {
      ok: false
      code: 'RELEASE_UNSIGNED' | 'RELEASE_KEY_UNTRUSTED' | 'RELEASE_SIGNATURE_INVALID'
      message: string
    }

/** Pure: the signature text (or null when there is none) against the manifest bytes and the trusted keys. */
export function checkSignature(
  manifestBytes: Buffer,
  sigText: string | null,
  trusted: ReadonlySet<string>,
): SignatureCheck {
  if (sigText === null || sigText.trim() === '')
    return { ok: false, code: 'RELEASE_UNSIGNED', message: `the release carries no ${SIGNATURE_FILE}` }
  let raw: unknown
  try {
    raw = JSON.parse(sigText)
  } catch {
    return { ok: false, code: 'RELEASE_SIGNATURE_INVALID', message: `${SIGNATURE_FILE} is not JSON` }
  }
  const parsed = ReleaseSignature.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return {
      ok: false,
      code: 'RELEASE_SIGNATURE_INVALID',
      message: `${SIGNATURE_FILE}: ${issue?.path.join('.') || 'value'}: ${issue?.message}`,
    }
  }
  const { key, sig } = parsed.data
  if (!trusted.has(key))
    return {
      ok: false,
      code: 'RELEASE_KEY_UNTRUSTED',
      message: `the release is signed by key ${key.slice(0, 16)}…, which this cluster does not trust`,
    }
  let good = false
  try {
    const pub = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(key, 'hex')]),
      format: 'der',
      type: 'spki',
    })
    good = verify(null, signedBytes(manifestBytes), pub, Buffer.from(sig, 'base64'))
  } catch {
    good = false
  }
  if (!good)
    return {
      ok: false,
      code: 'RELEASE_SIGNATURE_INVALID',
      message: `the signature by ${key.slice(0, 16)}… does not verify: the manifest was changed after signing, or the signature is forged`,
    }
  return { ok: true, key }
}

/** checkSignature, thrown as a HomecloudError with what to do next. */
export function assertSigned(
  manifestBytes: Buffer,
  sigText: string | null,
  trusted: ReadonlySet<string>,
): string {
  const c = checkSignature(manifestBytes, sigText, trusted)
  if (c.ok) return c.key
  const hint =
    c.code === 'RELEASE_UNSIGNED'
      ? 'sign it: homecloud release sign DIR --key KEY'
      : c.code === 'RELEASE_KEY_UNTRUSTED'
        ? 'sign with a trusted key, or trust this one: homecloud release trust KEY.pub --admin admin.json'
        : 'rebuild and sign the release again; do not edit a signed manifest'
  throw new HomecloudError(c.code, c.message, hint)
}
