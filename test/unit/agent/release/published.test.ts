import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { makeRelease } from '../../../../agent/release/make.js'
import { verifyPublished } from '../../../../agent/release/records-client.js'
import { AnnounceBody, relayable } from '../../../../agent/release/records-relay.js'
import { generateReleaseKey, signManifest } from '../../../../agent/release/signature.js'
import { MANIFEST_PREFIX } from '../../../../control/releases/records.js'

const tmp = await mkdtemp(join(tmpdir(), 'hc-published-'))
after(() => rm(tmp, { recursive: true, force: true }))

describe('published release records (what readers believe, what a voter writes for a worker)', async () => {
  const src = join(tmp, 'src')
  await mkdir(src)
  for (const n of ['vmlinuz', 'initrd.img', 'agent.tar.zst']) await writeFile(join(src, n), n)
  const r = await makeRelease({ from: src, out: join(tmp, 'out'), version: '1.0.0' })
  const key = generateReleaseKey()
  const trusted = new Set([key.publicHex])
  const record = (o: { sig?: string; manifest?: Buffer; origin?: string } = {}) =>
    JSON.stringify({
      v: 1,
      manifest: (o.manifest ?? r.manifestBytes).toString('base64'),
      sig: o.sig ?? JSON.stringify(signManifest(r.manifestBytes, key)),
      publishedAtMs: 1,
      origin: o.origin ?? 'node-a',
    })

  it('a record signed by a trusted key, under its own id: believed, with its origin and signer', () => {
    const v = verifyPublished(r.id, record(), trusted)
    assert.ok(v.ok)
    assert.equal(v.entry.origin, 'node-a')
    assert.equal(v.entry.signedBy, key.publicHex)
    assert.equal(v.entry.release.manifest.version, '1.0.0')
  })

  it('refuses, each with a reason: junk, another id, an untrusted key, a signature of other bytes', () => {
    const why = (id: string, value: string) => {
      const v = verifyPublished(id, value, trusted)
      assert.equal(v.ok, false)
      return v.ok ? '' : v.error
    }
    assert.match(why(r.id, 'not json'), /not a published release record/)
    assert.match(why(r.id, JSON.stringify({ v: 1 })), /not a published release record/)
    assert.match(why('0'.repeat(64), record()), /hashes to/)
    const other = generateReleaseKey()
    assert.match(
      why(r.id, record({ sig: JSON.stringify(signManifest(r.manifestBytes, other)) })),
      /trust|key/i,
    )
    const forged = JSON.stringify(signManifest(Buffer.from('other bytes'), key))
    assert.match(why(r.id, record({ sig: forged })), /signature/i)
  })

  it('an announcement names a manifest key and carries a bounded value', () => {
    assert.ok(AnnounceBody.safeParse({ key: `${MANIFEST_PREFIX}${r.id}`, value: record() }).success)
    assert.equal(AnnounceBody.safeParse({ key: '/homecloud/releases/current', value: 'x' }).success, false)
    assert.equal(AnnounceBody.safeParse({ key: `${MANIFEST_PREFIX}x`, value: 'x', extra: 1 }).success, false)
    assert.equal(
      AnnounceBody.safeParse({ key: `${MANIFEST_PREFIX}x`, value: 'x'.repeat(4 * 1024 * 1024) }).success,
      false,
    )
  })

  it('the relay passes release records, and the rollout record as one key only', () => {
    assert.equal(relayable(`${MANIFEST_PREFIX}x`, false), true)
    assert.equal(relayable('/homecloud/rollout', true), true)
    assert.equal(relayable('/homecloud/rollout', false), false, 'not as a prefix')
    assert.equal(relayable('/homecloud/', false), false)
    assert.equal(relayable('/homecloud/rolloutx', true), false)
  })
})
