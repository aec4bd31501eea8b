import assert from 'node:assert/strict'
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import {
  bootMiB,
  diskLayout,
  PART,
  partition,
  SECTOR_BYTES,
  sfdiskScript,
  slotMiBMax,
  slotMiBMin,
  stateMiBMin,
} from '../../../../agent/slots/disk-layout.js'

const MiB = 1024 * 1024

describe('disk layout (the partition table as data)', () => {
  it('boot, slot a, slot b, state: back to back from 1 MiB, MiB-aligned, numbered as PART says', () => {
    for (const arch of ['amd64', 'arm64'] as const) {
      const l = diskLayout({ arch, slotMiB: 512, stateMiB: 1024 })
      assert.deepEqual(
        l.partitions.map((p) => [p.name, p.number, p.fs]),
        [
          ['boot', PART.boot, 'vfat'],
          ['a', PART.a, 'vfat'],
          ['b', PART.b, 'vfat'],
          ['state', PART.state, 'ext4'],
        ],
      )
      let next = MiB / SECTOR_BYTES
      for (const p of l.partitions) {
        assert.equal(p.startSector, next, `${arch} ${p.name} starts where the last ended`)
        assert.equal((p.startSector * SECTOR_BYTES) % MiB, 0, `${arch} ${p.name} is MiB-aligned`)
        next += p.sectors
      }
      assert.equal(l.bytes, next * SECTOR_BYTES)
      assert.equal(l.bytes, (1 + bootMiB + 512 + 512 + 1024) * MiB)
      assert.equal(partition(l, 'a').sectors, partition(l, 'b').sectors)
    }
  })

  it('the boot partition is an EFI system partition on a PC and FAT32 (the Pi firmware reads it) on arm64', () => {
    assert.equal(partition(diskLayout({ arch: 'amd64', slotMiB: 512, stateMiB: 1024 }), 'boot').type, 0xef)
    assert.equal(partition(diskLayout({ arch: 'arm64', slotMiB: 512, stateMiB: 1024 }), 'boot').type, 0x0c)
  })

  it('refuses sizes outside its limits', () => {
    assert.throws(() => diskLayout({ arch: 'amd64', slotMiB: slotMiBMin - 1, stateMiB: 1024 }), /slot size/)
    assert.throws(() => diskLayout({ arch: 'amd64', slotMiB: slotMiBMax + 1, stateMiB: 1024 }), /slot size/)
    assert.throws(() => diskLayout({ arch: 'amd64', slotMiB: 512.5, stateMiB: 1024 }), /slot size/)
    assert.throws(() => diskLayout({ arch: 'amd64', slotMiB: 512, stateMiB: stateMiBMin - 1 }), /state size/)
  })

  it('sfdisk (util-linux) writes the table into a file as planned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-layout-'))
    try {
      for (const arch of ['amd64', 'arm64'] as const) {
        const l = diskLayout({ arch, slotMiB: slotMiBMin, stateMiB: stateMiBMin })
        const img = join(dir, `${arch}.img`)
        await writeFile(img, '')
        await truncate(img, l.bytes)
        await execa('sfdisk', ['-q', img], { input: sfdiskScript(l) })
        const table = JSON.parse((await execa('sfdisk', ['--json', img])).stdout).partitiontable
        assert.equal(table.label, 'dos')
        assert.deepEqual(
          table.partitions.map((p: { start: number; size: number; type: string; bootable?: boolean }) => [
            p.start,
            p.size,
            Number.parseInt(p.type, 16),
            p.bootable === true,
          ]),
          l.partitions.map((p) => [p.startSector, p.sectors, p.type, p.name === 'boot']),
          arch,
        )
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
