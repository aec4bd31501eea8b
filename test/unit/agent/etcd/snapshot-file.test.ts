import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { checkSnapshotFile, etcdctlError, snapshotHasHash } from '../../../../agent/etcd/snapshot.js'

// The integrity rule etcd applies on restore: a saved snapshot is whole 512-byte
// blocks plus the sha256 of those blocks.

describe('snapshot file check', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hc-etcd-snap-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const db = Buffer.alloc(8192, 7)
  const withHash = Buffer.concat([db, createHash('sha256').update(db).digest()])

  it('accepts a file whose hash matches', async () => {
    await writeFile(join(dir, 'good.db'), withHash)
    assert.deepEqual(await checkSnapshotFile(join(dir, 'good.db')), { ok: true, sizeBytes: 8192 + 32 })
  })

  it('names what is wrong with a bad one', async () => {
    const flipped = Buffer.from(withHash)
    flipped[4000] = flipped[4000]! ^ 0xff
    await writeFile(join(dir, 'flipped.db'), flipped)
    await writeFile(join(dir, 'truncated.db'), withHash.subarray(0, 5000))
    await writeFile(join(dir, 'text.db'), 'hello\n')
    const reason = async (name: string) => {
      const c = await checkSnapshotFile(join(dir, name))
      return c.ok ? 'ok' : c.reason
    }
    assert.equal(await reason('flipped.db'), 'hash-mismatch')
    assert.equal(await reason('truncated.db'), 'no-hash')
    assert.equal(await reason('text.db'), 'too-small')
    assert.equal(await reason('absent.db'), 'missing')
  })

  it('knows the layout rule', () => {
    assert.equal(snapshotHasHash(20480 + 32), true)
    assert.equal(snapshotHasHash(20480), false)
  })
})

describe('etcdctlError', () => {
  it('takes etcdctl\'s final "Error:" line over its JSON log lines', () => {
    const stderr =
      '{"level":"info","msg":"restoring snapshot"}\nError: expected sha256 [86 159], got [96 110]\n'
    assert.equal(etcdctlError(stderr), 'expected sha256 [86 159], got [96 110]')
    assert.equal(etcdctlError('something else\n'), 'something else')
  })
})
