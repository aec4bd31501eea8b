import type { StorageClass } from './schema.js'

/** What we know about one Linux block device; every field but the name is optional. */
export interface BlockDeviceInfo {
  /** Kernel name, e.g. 'sda', 'nvme0n1', 'mmcblk0' ('/dev/' prefix allowed). */
  name: string
  /** Medium as systeminformation/lsblk reports it: 'NVMe', 'SSD', 'HD', 'HDD'. */
  type?: string
  /** Transport: 'sata', 'usb', 'scsi', 'nvme', 'PCIe', 'mmc', 'virtio', ... */
  interfaceType?: string
  /** /sys/block/NAME/queue/rotational. */
  rotational?: boolean
  /** /sys/block/mmcblkN/device/type: 'SD', 'MMC' or 'SDIO'. */
  mmcType?: string
  /** /sys/block/NAME/removable. */
  removable?: boolean
}

// Kernel devices that are not storage hardware: their class would be a guess, and
// etcd latency on them says nothing about the disk underneath.
const VIRTUAL_PREFIXES = ['loop', 'ram', 'zram', 'dm-', 'md', 'nbd', 'sr', 'fd', 'rbd', 'zd']

// Transports that carry SATA/SCSI-style disks, where rotational tells SSD from HDD.
const DISK_TRANSPORTS = ['sata', 'ata', 'scsi', 'sas', 'usb', 'virtio', 'ieee1394', 'fc', 'iscsi', 'spi']

// Kernel name prefixes of SATA/SCSI/virtio/Xen/IDE disks.
const DISK_NAME = /^(sd|vd|xvd|hd)[a-z]+\d*$/

/** Maps a block device to the storage class that decides where etcd may live. */
export function classifyStorage(dev: BlockDeviceInfo): StorageClass {
  const name = dev.name
    .replace(/^\/dev\//, '')
    .trim()
    .toLowerCase()
  const type = dev.type?.trim().toLowerCase() ?? ''
  const transport = dev.interfaceType?.trim().toLowerCase() ?? ''

  if (name.startsWith('nvme') || type === 'nvme' || transport === 'nvme' || transport.startsWith('pcie')) {
    return 'nvme'
  }
  if (name.startsWith('mmcblk') || transport === 'mmc') return classifyMmc(name, dev)
  if (VIRTUAL_PREFIXES.some((p) => name.startsWith(p))) return 'unknown'

  if (dev.rotational === true) return 'hdd'
  if (dev.rotational === false) {
    if (DISK_TRANSPORTS.includes(transport) || DISK_NAME.test(name)) return 'ssd'
    return 'unknown'
  }
  // No sysfs answer: fall back to the medium systeminformation guessed.
  if (type === 'ssd') return 'ssd'
  if (type === 'hd' || type === 'hdd') return 'hdd'
  return 'unknown'
}

function classifyMmc(name: string, dev: BlockDeviceInfo): StorageClass {
  // Boot and RPMB hardware partitions exist only on eMMC.
  if (/^mmcblk\d+(boot\d+|rpmb)$/.test(name)) return 'emmc'
  const mmcType = dev.mmcType?.trim().toUpperCase() ?? ''
  if (mmcType === 'SD') return 'sd'
  if (mmcType === 'MMC') return 'emmc'
  if (mmcType === 'SDIO') return 'unknown'
  // Without the card type, a removable slot is almost always an SD card.
  if (dev.removable === true) return 'sd'
  return 'unknown'
}
