import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFacts } from '../../../../agent/facts/index.js'
import { readMachineFacts } from '../../../../agent/facts/machine.js'
import { Facts } from '../../../../agent/facts/schema.js'

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hc-machine-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('readMachineFacts reads this machine and probes the data dir', async () => {
  await withTmp(async (dataDir) => {
    const f = Facts.parse(await readMachineFacts({ dataDir }))
    assert.equal(f.source, 'machine')
    assert.ok(f.cores >= 1)
    assert.ok(f.memoryMB > 0)
    assert.ok(f.board.length > 0)
    assert.ok(f.cpuModel.length > 0)
    assert.ok(f.fsync, 'probe ran')
    assert.equal(f.fsync.path, dataDir)
    assert.equal(f.fsync.samples, 20)
    assert.ok(f.fsync.p50Ms <= f.fsync.p99Ms)
    assert.deepEqual(await readdir(dataDir), [], 'probe cleaned up')
  })
})

test('readMachineFacts without the probe, or on a missing dir, gives fsync null', async () => {
  await withTmp(async (dataDir) => {
    assert.equal((await readMachineFacts({ dataDir, probe: false })).fsync, null)
    const missing = await readMachineFacts({ dataDir: join(dataDir, 'not-yet') })
    assert.equal(missing.fsync, null)
  })
})

test('loadFacts picks the profile when one is named, else the machine', async () => {
  await withTmp(async (dataDir) => {
    const p = await loadFacts({ dataDir, profile: 'rock5b', seed: 'n1' })
    assert.equal(p.source, 'profile:rock5b')
    assert.equal(p.dataStorageClass, 'emmc')
    const m = await loadFacts({ dataDir, seed: 'n1', probe: false })
    assert.equal(m.source, 'machine')
    await assert.rejects(loadFacts({ dataDir, profile: 'nope', seed: 'n1' }), { code: 'PROFILE_UNKNOWN' })
  })
})
