import assert from 'node:assert/strict'
import { chmod, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { HomecloudError } from '../../../../agent/core/errors.js'
import { signRevocations } from '../../../../agent/pki/revocations.js'
import {
  pkiPaths,
  readCa,
  readCertAndKey,
  readKeyFile,
  readRevocationsFile,
  readTextIfExists,
  writeCertAndKey,
  writeCertFile,
  writeKeyFile,
  writeRevocationsFile,
} from '../../../../agent/pki/store.js'
import { testCa, withTempDir } from './fixtures.js'

const mode = async (path: string) => (await stat(path)).mode & 0o777

async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(mask)
  try {
    return await fn()
  } finally {
    process.umask(old)
  }
}

describe('PkiPaths', () => {
  test('the state directory layout', () => {
    const p = pkiPaths('/var/lib/homecloud')
    assert.equal(p.caCert, '/var/lib/homecloud/pki/ca.crt')
    assert.equal(p.caKey, '/var/lib/homecloud/pki/ca.key')
    assert.equal(p.nodeCert, '/var/lib/homecloud/pki/node.crt')
    assert.equal(p.nodeKey, '/var/lib/homecloud/pki/node.key')
    assert.equal(p.adminCert, '/var/lib/homecloud/pki/admin.crt')
    assert.equal(p.revocations, '/var/lib/homecloud/pki/revocations.json')
    assert.deepEqual(p.profile('etcd-peer'), {
      cert: '/var/lib/homecloud/pki/etcd/peer.crt',
      key: '/var/lib/homecloud/pki/etcd/peer.key',
    })
    assert.equal(p.profile('kubelet-serving').cert, '/var/lib/homecloud/pki/kubelet/serving.crt')
    assert.equal(p.profile('agent').cert, p.nodeCert)
  })
})

describe('writing and reading', () => {
  test('keys are 0600 even with umask 0, certificates 0644 even with umask 077', async () => {
    await withTempDir(async (dir) => {
      const p = pkiPaths(dir)
      await withUmask(0, () => writeKeyFile(p.profile('etcd-peer').key, 'KEY'))
      await withUmask(0o077, () => writeCertFile(p.profile('etcd-peer').cert, 'CERT'))
      assert.equal(await mode(p.profile('etcd-peer').key), 0o600)
      assert.equal(await mode(p.profile('etcd-peer').cert), 0o644)
      assert.equal(await mode(p.dir), 0o700)
    })
  })

  test('a real pair round-trips; rewriting leaves no temporary files', async () => {
    await withTempDir(async (dir) => {
      const p = pkiPaths(dir)
      const ca = testCa()
      await writeCertAndKey({ cert: p.caCert, key: p.caKey }, ca)
      await writeCertAndKey({ cert: p.caCert, key: p.caKey }, ca)
      assert.deepEqual(await readCertAndKey({ cert: p.caCert, key: p.caKey }), ca)
      assert.deepEqual(await readCa(p), ca)
      assert.equal(await mode(p.caKey), 0o600)
      assert.deepEqual((await readdir(p.dir)).sort(), ['ca.crt', 'ca.key'])
    })
  })

  test('missing files read as undefined; a CA without its key is fine', async () => {
    await withTempDir(async (dir) => {
      const p = pkiPaths(dir)
      assert.equal(await readTextIfExists(p.nodeCert), undefined)
      assert.equal(await readCertAndKey(p.profile('agent')), undefined)
      assert.equal(await readCa(p), undefined)
      await writeCertFile(p.caCert, testCa().certPem)
      assert.deepEqual(await readCa(p), { certPem: testCa().certPem })
    })
  })

  test('a key readable by others is refused', async () => {
    await withTempDir(async (dir) => {
      const p = pkiPaths(dir)
      await writeKeyFile(p.nodeKey, 'KEY')
      await chmod(p.nodeKey, 0o644)
      await assert.rejects(
        readKeyFile(p.nodeKey),
        (e: unknown) => e instanceof HomecloudError && e.code === 'PKI_KEY_EXPOSED',
      )
    })
  })

  test('revocation list file: written, read back, junk refused', async () => {
    await withTempDir(async (dir) => {
      const p = pkiPaths(dir)
      const list = signRevocations({ clusterId: 'c-test', version: 1, entries: [] }, testCa().keyPem)
      await writeRevocationsFile(p.revocations, list)
      assert.deepEqual(await readRevocationsFile(p.revocations), list)
      await writeFile(p.revocations, '{"nope":1}')
      await assert.rejects(
        readRevocationsFile(p.revocations),
        (e: unknown) => e instanceof HomecloudError && e.code === 'PKI_REVOCATIONS_INVALID',
      )
      await writeFile(p.revocations, 'not json')
      await assert.rejects(readRevocationsFile(p.revocations), (e: unknown) => e instanceof HomecloudError)
    })
  })

  test('an unwritable place is a STATE_DIR error', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'file'), 'x')
      await assert.rejects(
        writeKeyFile(join(dir, 'file', 'sub', 'k.key'), 'KEY'),
        (e: unknown) => e instanceof HomecloudError && e.code === 'STATE_DIR',
      )
    })
  })
})
