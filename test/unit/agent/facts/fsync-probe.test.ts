import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { probeFsync } from '../../../../agent/facts/fsync-probe.js'
import { FsyncProbe } from '../../../../agent/facts/schema.js'

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hc-fsync-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('probeFsync times real fdatasyncs and leaves no file behind', async () => {
  await withTmp(async (dir) => {
    const r = await probeFsync(dir, { samples: 10 })
    FsyncProbe.parse(r)
    assert.equal(r.path, dir)
    assert.equal(r.samples, 10)
    assert.ok(r.p50Ms <= r.p99Ms)
    assert.deepEqual(await readdir(dir), [])
  })
})

test('probeFsync reports percentiles of the clock it is given', async () => {
  await withTmp(async (dir) => {
    // Each round reads the clock twice; round i takes i+1 ms.
    let t = 0
    let round = 0
    let start = true
    const clock = {
      monoMs: () => {
        if (!start) t += ++round
        start = !start
        return t
      },
    }
    const r = await probeFsync(dir, { samples: 20, bytes: 512, clock })
    assert.equal(r.p50Ms, 10)
    assert.equal(r.p99Ms, 20)
  })
})

test('probeFsync rejects when the directory does not exist', async () => {
  await withTmp(async (dir) => {
    await assert.rejects(probeFsync(join(dir, 'missing')), { code: 'ENOENT' })
  })
})

test('probeFsync rejects silly sample counts', async () => {
  await assert.rejects(probeFsync(tmpdir(), { samples: 0 }), /samples/)
  await assert.rejects(probeFsync(tmpdir(), { bytes: 0 }), /bytes/)
})
