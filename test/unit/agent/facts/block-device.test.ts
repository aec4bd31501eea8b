import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import {
  diskHoldingPath,
  mountSourceFor,
  readBlockInfo,
  splitDev,
  transportFromSysPath,
} from '../../../../agent/facts/block-device.js'

const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 259:2 / / rw,relatime - ext4 /dev/mmcblk0p2 rw',
  '30 27 259:1 / /boot/firmware rw,relatime - vfat /dev/mmcblk0p1 rw',
  '31 27 8:1 / /var/lib/homecloud rw,relatime - ext4 /dev/sda1 rw',
  '32 27 8:17 / /mnt/my\\040disk rw,relatime - ext4 /dev/sdb1 rw',
  '33 31 0:40 / /var/lib/homecloud rw,relatime - btrfs /dev/nvme0n1p1 rw',
].join('\n')

test('mountSourceFor picks the longest, latest mount containing the path', () => {
  assert.equal(mountSourceFor(MOUNTINFO, '/home/pi'), '/dev/mmcblk0p2')
  assert.equal(mountSourceFor(MOUNTINFO, '/boot/firmware/config.txt'), '/dev/mmcblk0p1')
  assert.equal(mountSourceFor(MOUNTINFO, '/boot/firmwareX'), '/dev/mmcblk0p2')
  assert.equal(mountSourceFor(MOUNTINFO, '/var/lib/homecloud/etcd'), '/dev/nvme0n1p1')
  assert.equal(mountSourceFor(MOUNTINFO, '/mnt/my disk/x'), '/dev/sdb1')
  assert.equal(mountSourceFor('', '/x'), null)
})

test('splitDev decodes Linux dev_t', () => {
  assert.deepEqual(splitDev(BigInt(254 * 256)), { major: 254, minor: 0 })
  assert.deepEqual(splitDev(BigInt(8 * 256 + 17)), { major: 8, minor: 17 })
  // nvme: major 259, minor 300 spills into the high minor bits.
  const dev = (259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n)
  assert.deepEqual(splitDev(dev), { major: 259, minor: 300 })
})

test('transportFromSysPath reads the bus from the device path', () => {
  assert.equal(
    transportFromSysPath(
      '/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:01:00.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda',
    ),
    'usb',
  )
  assert.equal(
    transportFromSysPath('/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1'),
    'nvme',
  )
  assert.equal(
    transportFromSysPath('/sys/devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0'),
    'mmc',
  )
  assert.equal(transportFromSysPath('/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda'), 'virtio')
  assert.equal(
    transportFromSysPath('/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda'),
    'sata',
  )
  assert.equal(transportFromSysPath('/sys/devices/virtual/block/zram0'), undefined)
})

// A fake sysfs where the temp dir's own device number points at `target`.
async function fakeSys(root: string, target: string): Promise<{ sys: string; mountinfo: string }> {
  const sys = join(root, 'sys')
  const { major, minor } = splitDev((await stat(root, { bigint: true })).dev)
  await mkdir(join(sys, 'dev/block'), { recursive: true })
  await symlink(join(sys, target), join(sys, 'dev/block', `${major}:${minor}`))
  return { sys, mountinfo: join(root, 'mountinfo') }
}

async function put(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, text)
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hc-blk-'))
  try {
    await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const realDeviceNumber = async (): Promise<boolean> =>
  splitDev((await stat(tmpdir(), { bigint: true })).dev).major !== 0

test('diskHoldingPath walks from a partition to its USB disk', async (t) => {
  if (!(await realDeviceNumber())) return t.skip('tmpdir has no block device number')
  await withTmp(async (root) => {
    const diskDir = 'devices/platform/usb2/2-1/host0/block/sda'
    const paths = await fakeSys(root, `${diskDir}/sda1`)
    await put(join(paths.sys, diskDir, 'sda1/partition'), '1\n')
    await put(join(paths.sys, diskDir, 'queue/rotational'), '0\n')
    await put(join(paths.sys, diskDir, 'removable'), '0\n')
    await mkdir(join(paths.sys, 'block'), { recursive: true })
    await symlink(join(paths.sys, diskDir), join(paths.sys, 'block/sda'))

    assert.equal(await diskHoldingPath(join(root, 'not/yet/created'), paths), 'sda')
    assert.deepEqual(await readBlockInfo('sda', paths), {
      name: 'sda',
      rotational: false,
      removable: false,
      interfaceType: 'usb',
    })
  })
})

test('diskHoldingPath follows device-mapper volumes to the disk underneath', async (t) => {
  if (!(await realDeviceNumber())) return t.skip('tmpdir has no block device number')
  await withTmp(async (root) => {
    const paths = await fakeSys(root, 'devices/virtual/block/dm-0')
    const nvme = 'devices/pci0000:00/nvme/nvme0/nvme0n1'
    await put(join(paths.sys, nvme, 'nvme0n1p3/partition'), '3\n')
    await mkdir(join(paths.sys, 'devices/virtual/block/dm-0'), { recursive: true })
    await put(join(paths.sys, 'block/dm-0/slaves/nvme0n1p3'), '')
    await mkdir(join(paths.sys, 'class/block'), { recursive: true })
    await symlink(join(paths.sys, nvme, 'nvme0n1p3'), join(paths.sys, 'class/block/nvme0n1p3'))

    assert.equal(await diskHoldingPath(root, paths), 'nvme0n1')
  })
})

test('readBlockInfo reads the MMC card type', async () => {
  await withTmp(async (root) => {
    const sys = join(root, 'sys')
    const dir = 'devices/platform/emmc2bus/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0'
    await put(join(sys, dir, 'device/type'), 'SD\n')
    await put(join(sys, dir, 'queue/rotational'), '0\n')
    await mkdir(join(sys, 'block'), { recursive: true })
    await symlink(join(sys, dir), join(sys, 'block/mmcblk0'))
    const info = await readBlockInfo('mmcblk0', { sys, mountinfo: join(root, 'none') })
    assert.deepEqual(info, { name: 'mmcblk0', rotational: false, mmcType: 'SD', interfaceType: 'mmc' })
  })
})

test('diskHoldingPath gives null when nothing is known', async () => {
  await withTmp(async (root) => {
    assert.equal(
      await diskHoldingPath(root, { sys: join(root, 'nosys'), mountinfo: join(root, 'none') }),
      null,
    )
  })
})
