import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  checkSignature,
  generateReleaseKey,
  readPublicKeyArg,
  readReleaseKey,
  signManifest,
  writeReleaseKey,
} from '../../../../agent/release/signature.js'

const tmp = await mkdtemp(join(tmpdir(), 'hc-release-sig-'))
after(() => rm(tmp, { recursive: true, force: true }))
const manifest = Buffer.from('{"v":1,"version":"x"}\n')

describe('release signatures', () => {
  const key = generateReleaseKey()
  const other = generateReleaseKey()
  const trusted = new Set([key.publicHex])

  it('a trusted key signs; the check names the key', () => {
    const sig = JSON.stringify(signManifest(manifest, key))
    assert.deepEqual(checkSignature(manifest, sig, trusted), { ok: true, key: key.publicHex })
  })

  it('unsigned, unknown key, tampered manifest, forged signature: each its own refusal', () => {
    const sig = signManifest(manifest, key)
    assert.equal(checkSignature(manifest, null, trusted).ok, false)
    const code = (m: Buffer, s: string | null) => {
      const c = checkSignature(m, s, trusted)
      return c.ok ? 'ok' : c.code
    }
    assert.equal(code(manifest, null), 'RELEASE_UNSIGNED')
    assert.equal(code(manifest, JSON.stringify(signManifest(manifest, other))), 'RELEASE_KEY_UNTRUSTED')
    const tampered = Buffer.from(manifest.toString().replace('x', 'y'))
    assert.equal(code(tampered, JSON.stringify(sig)), 'RELEASE_SIGNATURE_INVALID')
    // Another key's signature relabelled with the trusted key: a forgery.
    const forged = { ...signManifest(manifest, other), key: key.publicHex }
    assert.equal(code(manifest, JSON.stringify(forged)), 'RELEASE_SIGNATURE_INVALID')
    assert.equal(code(manifest, '{"v":1}'), 'RELEASE_SIGNATURE_INVALID')
    assert.equal(code(manifest, 'not json'), 'RELEASE_SIGNATURE_INVALID')
  })

  it('keygen writes a 0600 private key and a public key file both readers accept', async () => {
    const path = join(tmp, 'release.key')
    await writeReleaseKey(path, key)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal((await readReleaseKey(path)).publicHex, key.publicHex)
    assert.equal(await readPublicKeyArg(`${path}.pub`), key.publicHex)
    assert.equal(await readPublicKeyArg(key.publicHex), key.publicHex)
    assert.equal((await readFile(`${path}.pub`, 'utf8')).trim(), key.publicHex)
    await assert.rejects(readPublicKeyArg(path), /neither a release public key/)
  })
})
