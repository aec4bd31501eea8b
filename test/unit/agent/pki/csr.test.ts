import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { createCsr, parseCsr } from '../../../../agent/pki/csr.js'
import { generateRsaKeyPem } from '../../../../agent/pki/keys.js'
import { signCertificate } from '../../../../agent/pki/sign.js'
import {
  IDENTITIES,
  node,
  openssl,
  patchPem,
  testCa,
  testClock,
  withTempDir,
  writeFiles,
} from './fixtures.js'

const isCode = (code: string) => (err: unknown) => err instanceof HomecloudError && err.code === code
const refusal = (code: string, reason: string) => (err: unknown) =>
  err instanceof HomecloudError && err.code === code && (err.cause as { reason?: string }).reason === reason

const keyPem = generateRsaKeyPem(2048)
const readFileSyncText = (p: string) => readFileSync(p, 'utf8')

describe('createCsr / parseCsr', () => {
  test('round trip, with a new key or a given one', () => {
    const made = createCsr({ commonName: node.nodeId, organizations: ['homecloud:nodes'] })
    const parsed = parseCsr(made.csrPem)
    assert.equal(parsed.commonName, node.nodeId)
    assert.deepEqual(parsed.organizations, ['homecloud:nodes'])
    assert.equal(parsed.keyBits, 2048)
    assert.equal(parsed.requestsCa, false)
    assert.match(made.keyPem, /BEGIN PRIVATE KEY/)

    const again = createCsr({ commonName: 'x', keyPem })
    assert.equal(again.keyPem, keyPem)
  })

  test('OpenSSL accepts our CSRs and we read OpenSSL CSRs with their SAN requests', async () => {
    await withTempDir(async (dir) => {
      const ours = createCsr({ commonName: node.nodeId, keyPem })
      await writeFiles(dir, { 'ours.csr': ours.csrPem, 'k.pem': keyPem })
      const check = await openssl(['req', '-in', 'ours.csr', '-verify', '-noout'], dir)
      assert.equal(check.exitCode, 0, check.all)
      assert.match(check.all!, /verify OK/i)

      const made = await openssl(
        [
          'req',
          '-new',
          '-key',
          'k.pem',
          '-subj',
          `/CN=${node.nodeId}`,
          '-sha256',
          '-addext',
          'subjectAltName=DNS:pi5-1,IP:10.77.0.2,IP:::1',
          '-out',
          'theirs.csr',
        ],
        dir,
      )
      assert.equal(made.exitCode, 0, made.all)
      const parsed = parseCsr(await readFile(join(dir, 'theirs.csr'), 'utf8'))
      assert.deepEqual(parsed.dnsNames, ['pi5-1'])
      assert.deepEqual(parsed.ips, ['10.77.0.2', '::1'])
    })
  })

  test('garbage, truncation and a forged self-signature are PKI_CSR_INVALID', () => {
    const { csrPem } = createCsr({ commonName: 'node-aaa', keyPem })
    assert.throws(() => parseCsr('hello'), isCode('PKI_CSR_INVALID'))
    assert.throws(() => parseCsr(csrPem.slice(0, 200)), isCode('PKI_CSR_INVALID'))
    assert.throws(() => parseCsr('x'.repeat(100_000)), isCode('PKI_CSR_INVALID'))
    const forged = patchPem(csrPem, 'node-aaa', 'node-bbb', 'CERTIFICATE REQUEST')
    assert.throws(() => parseCsr(forged), isCode('PKI_CSR_INVALID'))
  })

  test('a CSR with two CNs is refused as ambiguous', () => {
    const { csrPem } = createCsr({ commonName: 'a', keyPem })
    assert.equal(parseCsr(csrPem).commonName, 'a')
    return withTempDir(async (dir) => {
      await writeFiles(dir, { 'k.pem': keyPem })
      const made = await openssl(
        ['req', '-new', '-key', 'k.pem', '-subj', '/CN=a/CN=b', '-out', 'two.csr'],
        dir,
      )
      assert.equal(made.exitCode, 0, made.all)
      assert.throws(() => parseCsr(readFileSyncText(join(dir, 'two.csr'))), isCode('PKI_CSR_INVALID'))
    })
  })
})

describe('signing what a CSR asks for', () => {
  const sign = (csrPem: string, over: Partial<Parameters<typeof signCertificate>[0]> = {}) =>
    signCertificate({
      ca: testCa(),
      csrPem,
      profile: 'agent',
      identity: IDENTITIES.agent,
      clock: testClock(),
      ...over,
    })

  test('a CN other than the joiner node id → PKI_CSR_MISMATCH', () => {
    const { csrPem } = createCsr({ commonName: 'n-other', keyPem })
    assert.throws(() => sign(csrPem), refusal('PKI_CSR_MISMATCH', 'cn-mismatch'))
  })

  test('a CSR asking for CA:true (made by OpenSSL) → PKI_FORBIDDEN_REQUEST', async () => {
    await withTempDir(async (dir) => {
      await writeFiles(dir, { 'k.pem': keyPem })
      const made = await openssl(
        [
          'req',
          '-new',
          '-key',
          'k.pem',
          '-subj',
          `/CN=${node.nodeId}`,
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-out',
          'ca.csr',
        ],
        dir,
      )
      assert.equal(made.exitCode, 0, made.all)
      const csrPem = readFileSyncText(join(dir, 'ca.csr'))
      assert.equal(parseCsr(csrPem).requestsCa, true)
      assert.throws(() => sign(csrPem), refusal('PKI_FORBIDDEN_REQUEST', 'ca-requested'))
    })
  })

  test('a CSR asking for keyCertSign → PKI_FORBIDDEN_REQUEST', async () => {
    await withTempDir(async (dir) => {
      await writeFiles(dir, { 'k.pem': keyPem })
      const made = await openssl(
        [
          'req',
          '-new',
          '-key',
          'k.pem',
          '-subj',
          `/CN=${node.nodeId}`,
          '-addext',
          'keyUsage=keyCertSign',
          '-out',
          'ku.csr',
        ],
        dir,
      )
      assert.equal(made.exitCode, 0, made.all)
      assert.throws(
        () => sign(readFileSyncText(join(dir, 'ku.csr'))),
        refusal('PKI_FORBIDDEN_REQUEST', 'ca-requested'),
      )
    })
  })

  test("a CSR asking for another node's name or an unlisted address → forbidden", async () => {
    await withTempDir(async (dir) => {
      await writeFiles(dir, { 'k.pem': keyPem })
      const csrWith = async (san: string) => {
        const made = await openssl(
          [
            'req',
            '-new',
            '-key',
            'k.pem',
            '-subj',
            `/CN=${node.nodeId}`,
            '-addext',
            `subjectAltName=${san}`,
            '-out',
            's.csr',
          ],
          dir,
        )
        assert.equal(made.exitCode, 0, made.all)
        return readFileSyncText(join(dir, 's.csr'))
      }
      const other = await csrWith('DNS:pi5-2')
      assert.throws(
        () => sign(other, { reservedNames: ['pi5-2'] }),
        refusal('PKI_FORBIDDEN_REQUEST', 'name-taken'),
      )
      assert.throws(() => sign(other), refusal('PKI_FORBIDDEN_REQUEST', 'san-not-allowed'))
      const ip = await csrWith('IP:10.77.0.9')
      assert.throws(
        () => sign(ip, { allowedIps: ['10.77.0.2'] }),
        refusal('PKI_FORBIDDEN_REQUEST', 'ip-not-allowed'),
      )
      assert.throws(() => sign(ip), refusal('PKI_FORBIDDEN_REQUEST', 'san-not-allowed'))
      // Asking for a subset of what the plan grants is fine.
      const own = await csrWith('DNS:pi5-1,IP:10.77.0.2')
      assert.ok(sign(own, { allowedIps: ['10.77.0.2'] }).certPem)
    })
  })

  test('a small key is refused', () => {
    const { csrPem } = createCsr({ commonName: node.nodeId, keyBits: 1024 })
    assert.throws(() => sign(csrPem), refusal('PKI_FORBIDDEN_REQUEST', 'weak-key'))
  })
})
