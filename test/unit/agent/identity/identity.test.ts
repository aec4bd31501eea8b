import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import HyperDHT from 'hyperdht'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { loadOrCreateIdentity, nodeIdFromPublicKey } from '../../../../agent/identity/identity.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-identity-'))
after(() => rm(dir, { recursive: true, force: true }))

describe('node identity', () => {
  it('is created once with mode 0600 and is the same on every later start', async () => {
    const path = join(dir, 'a', 'node.key')
    const first = await loadOrCreateIdentity(path)
    assert.equal(first.created, true)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    const again = await loadOrCreateIdentity(path)
    assert.equal(again.created, false)
    assert.equal(again.identity.id, first.identity.id)
    assert.equal(first.identity.id, nodeIdFromPublicKey(first.identity.publicKey))
    assert.match(first.identity.id, /^[0-9a-f]{20}$/)
  })

  it('derives the same public key hyperswarm uses for its Noise handshake', async () => {
    const { identity } = await loadOrCreateIdentity(join(dir, 'b', 'node.key'))
    assert.deepEqual(HyperDHT.keyPair(identity.seed).publicKey, identity.publicKey)
  })

  it('refuses a damaged or foreign key file with a clear error instead of replacing it', async () => {
    const path = join(dir, 'c.key')
    await writeFile(path, 'not a key')
    await assert.rejects(
      loadOrCreateIdentity(path),
      (e: unknown) => e instanceof HomecloudError && e.code === 'IDENTITY_INVALID',
    )
    const { generateKeyPairSync } = await import('node:crypto')
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    })
    await writeFile(path, rsa)
    await assert.rejects(loadOrCreateIdentity(path), /not ed25519/)
  })
})
