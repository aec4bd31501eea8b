import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { identityFromPem } from '../../../../agent/identity/identity.js'
import { type HoldersBody, signHolders, verifyHolders } from '../../../../control/releases/holders.js'
import { HOLDERS_PREFIX } from '../../../../control/releases/records.js'

const newIdentity = () =>
  identityFromPem(
    generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  )
const me = newIdentity()
const other = newIdentity()
const hex = (b: Buffer) => b.toString('hex')
const body = (o: Partial<HoldersBody> = {}): HoldersBody => ({
  v: 1,
  node: me.id,
  name: 'pi5-1',
  atMs: 1000,
  held: [{ id: 'a'.repeat(64), have: 3, of: 26 }],
  problem: null,
  ...o,
})

describe('holders records', () => {
  it('a node signs its own record; a reader with that member key believes it', () => {
    const v = verifyHolders(
      `${HOLDERS_PREFIX}${me.id}`,
      signHolders(body(), me.privateKey),
      hex(me.publicKey),
    )
    assert.deepEqual(v, { ok: true, body: body() })
  })

  it('refuses a record another member wrote about this node, or filed under another id', () => {
    // Signed by another member, claiming to be this node.
    const forged = signHolders(body({ problem: 'disk on fire' }), other.privateKey)
    const v1 = verifyHolders(`${HOLDERS_PREFIX}${me.id}`, forged, hex(me.publicKey))
    assert.deepEqual(v1, {
      ok: false,
      error: `${HOLDERS_PREFIX}${me.id.slice(0, 12)}…: not signed by that node`,
    })
    // This node's genuine record copied under another node's key.
    const copied = verifyHolders(
      `${HOLDERS_PREFIX}${other.id}`,
      signHolders(body(), me.privateKey),
      hex(other.publicKey),
    )
    assert.equal(copied.ok, false)
    // Changed after signing.
    const signed = JSON.parse(signHolders(body(), me.privateKey))
    signed.body.held[0].have = 26
    assert.equal(
      verifyHolders(`${HOLDERS_PREFIX}${me.id}`, JSON.stringify(signed), hex(me.publicKey)).ok,
      false,
    )
  })

  it('refuses malformed records with a reason, before any signature work', () => {
    const at = `${HOLDERS_PREFIX}${me.id}`
    const key = hex(me.publicKey)
    assert.match(
      String((verifyHolders(at, 'not json', key) as { error: string }).error),
      /not a signed holders record/,
    )
    assert.match(
      String((verifyHolders(at, JSON.stringify(body()), key) as { error: string }).error),
      /not a signed holders record/,
    )
    const bad = (b: unknown) =>
      verifyHolders(at, JSON.stringify({ body: b, sig: `${'A'.repeat(86)}==` }), key)
    assert.equal(bad({ ...body(), held: [{ id: 'a'.repeat(64), have: 30, of: 26 }] }).ok, false)
    assert.equal(bad({ ...body(), held: Array(65).fill(body().held[0]) }).ok, false)
    assert.equal(bad({ ...body(), problem: 'x'.repeat(501) }).ok, false)
    assert.equal(bad({ ...body(), extra: 1 }).ok, false)
  })
})
