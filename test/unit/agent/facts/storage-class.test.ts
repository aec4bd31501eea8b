import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StorageClass } from '../../../../agent/facts/schema.js'
import { type BlockDeviceInfo, classifyStorage } from '../../../../agent/facts/storage-class.js'

const cases: [string, BlockDeviceInfo, StorageClass][] = [
  // NVMe by name, medium or transport, whatever else is said.
  ['nvme by name', { name: 'nvme0n1' }, 'nvme'],
  ['nvme partition', { name: 'nvme0n1p2', rotational: false }, 'nvme'],
  ['nvme with /dev prefix', { name: '/dev/nvme1n1' }, 'nvme'],
  ['nvme ignores rotational', { name: 'nvme0n1', rotational: true }, 'nvme'],
  ['nvme medium from lsblk', { name: 'sdz', type: 'NVMe' }, 'nvme'],
  ['pcie transport', { name: 'xyz0', interfaceType: 'PCIe' }, 'nvme'],
  ['nvme transport', { name: 'xyz0', interfaceType: 'nvme' }, 'nvme'],
  // MMC: the card type decides.
  ['mmc SD card', { name: 'mmcblk0', mmcType: 'SD' }, 'sd'],
  ['mmc eMMC', { name: 'mmcblk0', mmcType: 'MMC' }, 'emmc'],
  ['mmc type with newline', { name: 'mmcblk1', mmcType: 'MMC\n' }, 'emmc'],
  ['mmc lowercase type', { name: 'mmcblk1', mmcType: 'sd' }, 'sd'],
  ['mmc SDIO', { name: 'mmcblk2', mmcType: 'SDIO' }, 'unknown'],
  ['mmc partition', { name: 'mmcblk0p2', mmcType: 'SD' }, 'sd'],
  ['mmc boot partition', { name: 'mmcblk0boot0' }, 'emmc'],
  ['mmc rpmb', { name: 'mmcblk0rpmb' }, 'emmc'],
  ['mmc unknown type, removable', { name: 'mmcblk0', removable: true }, 'sd'],
  ['mmc unknown type, fixed', { name: 'mmcblk0', removable: false }, 'unknown'],
  ['mmc unknown type, nothing else', { name: 'mmcblk0' }, 'unknown'],
  ['mmc ignores rotational', { name: 'mmcblk0', mmcType: 'SD', rotational: true }, 'sd'],
  ['mmc transport', { name: 'foo', interfaceType: 'mmc', mmcType: 'MMC' }, 'emmc'],
  // Rotational decides for SATA/SCSI/USB/virtio disks.
  ['sata hdd', { name: 'sda', interfaceType: 'sata', rotational: true }, 'hdd'],
  ['sata ssd', { name: 'sda', interfaceType: 'sata', rotational: false }, 'ssd'],
  ['usb ssd', { name: 'sdb', interfaceType: 'usb', rotational: false }, 'ssd'],
  ['usb hdd', { name: 'sdb', interfaceType: 'USB', rotational: true }, 'hdd'],
  ['scsi ssd', { name: 'sdc', interfaceType: 'scsi', rotational: false }, 'ssd'],
  ['sas hdd', { name: 'sdd', interfaceType: 'sas', rotational: true }, 'hdd'],
  ['sd name, no transport, non-rotational', { name: 'sda', rotational: false }, 'ssd'],
  ['sd partition non-rotational', { name: 'sda1', rotational: false }, 'ssd'],
  ['virtio non-rotational', { name: 'vda', rotational: false }, 'ssd'],
  ['virtio rotational', { name: 'vda', interfaceType: 'virtio', rotational: true }, 'hdd'],
  ['xen disk', { name: 'xvda', rotational: false }, 'ssd'],
  ['odd name non-rotational, no transport', { name: 'foo0', rotational: false }, 'unknown'],
  ['odd name rotational', { name: 'foo0', rotational: true }, 'hdd'],
  // No sysfs answer: the lsblk medium.
  ['medium SSD only', { name: 'sda', type: 'SSD' }, 'ssd'],
  ['medium HD only', { name: 'sda', type: 'HD' }, 'hdd'],
  ['medium HDD only', { name: 'sda', type: 'hdd' }, 'hdd'],
  ['rotational beats medium', { name: 'sda', type: 'SSD', rotational: true }, 'hdd'],
  ['nothing known', { name: 'sda' }, 'unknown'],
  ['empty name', { name: '' }, 'unknown'],
  // Virtual devices are never guessed.
  ['zram', { name: 'zram0', rotational: false, type: 'SSD' }, 'unknown'],
  ['loop', { name: 'loop3', rotational: false }, 'unknown'],
  ['device mapper', { name: 'dm-0', rotational: false }, 'unknown'],
  ['md raid', { name: 'md0', rotational: true }, 'unknown'],
  ['ram disk', { name: 'ram0' }, 'unknown'],
  ['nbd', { name: 'nbd0', rotational: false }, 'unknown'],
  ['optical', { name: 'sr0', rotational: true }, 'unknown'],
]

for (const [label, dev, want] of cases) {
  test(`classifyStorage: ${label} → ${want}`, () => {
    assert.equal(classifyStorage(dev), want)
  })
}
