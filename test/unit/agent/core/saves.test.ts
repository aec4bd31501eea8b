import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { writeFileAtomic } from '../../../../agent/core/files.js'
import { SaveLanes } from '../../../../agent/core/saves.js'

/** A write that finishes when the test says so, recording what it wrote into `disk`. */
function gated(disk: string[], content: string) {
  let open!: () => void
  const gate = new Promise<void>((r) => {
    open = r
  })
  const write = async () => {
    await gate
    disk.push(content)
  }
  return { write, open }
}

const noFailures = () => () => assert.fail('no save fails here')

describe('SaveLanes: saves of one file land in the order asked', () => {
  test('a slow older save finishing after a newer one asked later cannot win (the join-signers race)', async () => {
    // Fired and forgotten, v0's write finishing last left v0 on disk while memory held v1.
    const disk: string[] = []
    const lanes = new SaveLanes(noFailures)
    const v0 = gated(disk, 'v0')
    const v1 = gated(disk, 'v1')
    const done0 = lanes.save('revocations', v0.write)
    await new Promise((r) => setImmediate(r)) // v0 is in flight
    const done1 = lanes.save('revocations', v1.write)
    v1.open() // the newer write would be quick...
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(disk, [], 'v1 waits for v0')
    v0.open() // ...and the older one slow
    await Promise.all([done0, done1])
    assert.deepEqual(disk, ['v0', 'v1'])
  })

  test('saves asked while one runs collapse to the newest', async () => {
    const disk: string[] = []
    const lanes = new SaveLanes(noFailures)
    const first = gated(disk, 'a')
    void lanes.save('x', first.write)
    await new Promise((r) => setImmediate(r))
    for (const c of ['b', 'c', 'd']) void lanes.save('x', async () => void disk.push(c))
    first.open()
    await lanes.flushed()
    assert.deepEqual(disk, ['a', 'd'])
  })

  test('saves asked in one tick write only the newest; other files do not wait', async () => {
    const disk: string[] = []
    const lanes = new SaveLanes(noFailures)
    const slow = gated(disk, 'other')
    void lanes.save('other', slow.write)
    void lanes.save('x', async () => void disk.push('x1'))
    void lanes.save('x', async () => void disk.push('x2'))
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(disk, ['x2'])
    slow.open()
    await lanes.flushed()
    assert.deepEqual(disk, ['x2', 'other'])
  })

  test('a failed save is reported and the next one still runs', async () => {
    const failed: string[] = []
    const lanes = new SaveLanes((what) => (err) => failed.push(`${what}: ${(err as Error).message}`))
    const disk: string[] = []
    void lanes.save('x', async () => {
      throw new Error('disk full')
    })
    await new Promise((r) => setImmediate(r))
    void lanes.save('x', async () => void disk.push('after'))
    await lanes.flushed()
    assert.deepEqual(failed, ['x: disk full'])
    assert.deepEqual(disk, ['after'])
  })

  test('real atomic writes of one file, many in flight: the file holds the last one asked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-saves-'))
    try {
      const path = join(dir, 'revocations.json')
      const lanes = new SaveLanes(noFailures)
      for (let i = 0; i < 50; i++) {
        // Each content a different size, so unordered renames would often finish out of order.
        void lanes.save('f', () => writeFileAtomic(path, `${i}\n${'x'.repeat((50 - i) * 4096)}`))
        if (i % 7 === 0) await new Promise((r) => setImmediate(r))
      }
      await lanes.flushed()
      assert.equal((await readFile(path, 'utf8')).split('\n')[0], '49')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
