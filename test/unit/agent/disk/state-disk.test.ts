import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { execa } from 'execa'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import {
  chooseStateDisk,
  LSBLK_COLUMNS,
  LsblkReport,
  stateDiskOrThrow,
} from '../../../../agent/disk/state-disk.js'
import { disk, part } from './devices.js'

describe("state disk: which disk holds a node's state", () => {
  it('reads what lsblk on this machine prints', async () => {
    const r = await execa('lsblk', ['-J', '-b', '-o', LSBLK_COLUMNS])
    const parsed = LsblkReport.parse(JSON.parse(r.stdout))
    assert.ok(parsed.blockdevices.length > 0)
    // Older lsblk prints flags and sizes as strings.
    const old = LsblkReport.parse({ blockdevices: [{ ...disk('sdb'), size: '1024', rm: '0', ro: '1' }] })
    assert.deepEqual(
      [old.blockdevices[0]?.size, old.blockdevices[0]?.rm, old.blockdevices[0]?.ro],
      [1024, false, true],
    )
  })

  it('uses the filesystem labelled homecloud-state wherever it is', () => {
    const sd = disk('mmcblk0', {
      pttype: 'dos',
      children: [
        part('mmcblk0p1', { fstype: 'vfat' }),
        part('mmcblk0p4', { fstype: 'ext4', label: 'homecloud-state' }),
      ],
    })
    for (const policy of ['labelled-only', 'adopt-empty'] as const)
      assert.deepEqual(chooseStateDisk([sd, disk('sda')], policy, '/dev/mmcblk0'), {
        kind: 'labelled',
        path: '/dev/mmcblk0p4',
      })
  })

  it('adopts only an empty disk, and only when the policy says so', () => {
    const root = disk('vda', { mountpoint: '/' })
    const data = disk('vdb', { pttype: 'gpt', children: [part('vdb1', { fstype: 'xfs' })] })
    const blank = disk('vdc')
    assert.deepEqual(chooseStateDisk([root, data, blank], 'adopt-empty', null), {
      kind: 'adopt',
      disk: '/dev/vdc',
      why: [],
    })
    const asked = chooseStateDisk([root, data, blank], 'labelled-only', null)
    assert.equal(asked.kind, 'ram-only')
    assert.match(
      asked.kind === 'ram-only' ? asked.why.join('\n') : '',
      /vdc is empty, but the policy adopts no disk/,
    )
  })

  it('never adopts a disk holding anything: filesystem, table, partitions, a mount, the boot disk, read-only, tiny, RAM', () => {
    const held = [
      disk('sda', { fstype: 'ext4' }),
      disk('sdb', { pttype: 'dos' }),
      disk('sdc', { children: [part('sdc1')] }),
      disk('sdd', { mountpoint: '/srv' }),
      disk('sde'),
      disk('sdf', { ro: true }),
      disk('sdg', { size: 10 * 1024 * 1024 }),
      disk('zram0', { size: 0 }),
      disk('loop0', { type: 'loop' }),
    ]
    const c = chooseStateDisk(held, 'adopt-empty', '/dev/sde')
    assert.equal(c.kind, 'ram-only')
    assert.equal(c.kind === 'ram-only' ? c.why.length : 0, held.length)
    assert.throws(
      () => stateDiskOrThrow(c, true),
      (e: HomecloudError) =>
        e.code === 'STATE_DISK_REFUSED' && e.message.includes('/dev/sdd holds data (mounted at /srv)'),
    )
    assert.equal(stateDiskOrThrow(c, false).kind, 'ram-only')
  })

  it('two labelled filesystems, or a labelled one that is not ext4 or read-only, are for a person to settle', () => {
    const two = chooseStateDisk(
      [
        disk('sda', { fstype: 'ext4', label: 'homecloud-state' }),
        disk('sdb', { fstype: 'ext4', label: 'homecloud-state' }),
      ],
      'adopt-empty',
      null,
    )
    assert.equal(two.kind, 'refused')
    assert.throws(
      () => stateDiskOrThrow(two, false),
      (e: HomecloudError) => e.code === 'STATE_DISK_REFUSED',
    )
    assert.equal(
      chooseStateDisk([disk('sda', { fstype: 'vfat', label: 'homecloud-state' })], 'adopt-empty', null).kind,
      'refused',
    )
    assert.equal(
      chooseStateDisk(
        [disk('sda', { fstype: 'ext4', label: 'homecloud-state', ro: true })],
        'adopt-empty',
        null,
      ).kind,
      'refused',
    )
  })
})
