import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { inRam, isRamFsType, RAM_FS_MAGIC } from '../../../../agent/facts/in-ram.js'

test('tmpfs and ramfs are RAM; ext4, xfs and btrfs are not', () => {
  assert.equal(isRamFsType(RAM_FS_MAGIC.tmpfs), true)
  assert.equal(isRamFsType(RAM_FS_MAGIC.ramfs), true)
  for (const disk of [0xef53, 0x58465342, 0x9123683e]) assert.equal(isRamFsType(disk), false)
})

test('a directory on a real tmpfs is in RAM; one in the repository is not; a missing one is not', async () => {
  const shm = await mkdtemp('/dev/shm/hc-in-ram-')
  try {
    assert.equal(await inRam(shm), true)
  } finally {
    await rm(shm, { recursive: true, force: true })
  }
  // The repository lives on a disk (this is where the tests run from).
  assert.equal(await inRam(join(import.meta.dirname, '.')), false)
  assert.equal(await inRam(join(shm, 'gone')), false)
})
