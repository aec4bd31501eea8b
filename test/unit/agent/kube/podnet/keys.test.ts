import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  keysFromPrivate,
  loadOrCreateWireguardKeys,
  parseWireguardKey,
} from '../../../../../agent/kube/podnet/keys.js'

describe('WireGuard keys', () => {
  it('derives the public key as X25519 does (RFC 7748 test vector)', () => {
    const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex')
    assert.equal(
      keysFromPrivate(priv).publicKey.toString('hex'),
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    )
  })

  it('parses only 32-byte base64 keys', () => {
    assert.equal(parseWireguardKey(Buffer.alloc(32, 7).toString('base64'))?.length, 32)
    for (const bad of ['', 'abc', Buffer.alloc(31).toString('base64'), `${'A'.repeat(43)}!`])
      assert.equal(parseWireguardKey(bad), null, bad)
  })

  it('makes the key once (0600), reuses it, and names a damaged file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-wgkey-'))
    try {
      const file = join(dir, 'podnet', 'wireguard.key')
      const a = await loadOrCreateWireguardKeys(file)
      assert.equal((await stat(file)).mode & 0o777, 0o600)
      const b = await loadOrCreateWireguardKeys(file)
      assert.ok(a.publicKey.equals(b.publicKey))
      assert.match(await readFile(file, 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/)
      await writeFile(file, 'garbage\n')
      await assert.rejects(loadOrCreateWireguardKeys(file), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'PODNET_FAILED')
        assert.match(e.message, /does not hold a WireGuard private key/)
        return true
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
