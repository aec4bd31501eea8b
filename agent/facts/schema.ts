import { z } from 'zod'

// The hardware facts a node reports about itself. The same shape comes from the
// real machine (systeminformation) or from a board profile in lab mode.

export const STORAGE_CLASSES = ['nvme', 'ssd', 'emmc', 'sd', 'hdd', 'unknown'] as const
export const StorageClass = z.enum(STORAGE_CLASSES)
export type StorageClass = z.infer<typeof StorageClass>

export const Arch = z.enum(['arm64', 'arm', 'amd64', '386', 'riscv64', 'unknown'])
export type Arch = z.infer<typeof Arch>

export const StorageDevice = z.object({
  name: z.string().min(1).max(64),
  class: StorageClass,
  sizeGB: z.number().nonnegative(),
  model: z.string().max(128).default(''),
})
export type StorageDevice = z.infer<typeof StorageDevice>

export const FsyncProbe = z.object({
  /** Where the probe wrote (the data directory). */
  path: z.string().max(512),
  samples: z.number().int().nonnegative(),
  p50Ms: z.number().nonnegative(),
  p99Ms: z.number().nonnegative(),
})
export type FsyncProbe = z.infer<typeof FsyncProbe>

export const Facts = z.object({
  arch: Arch,
  board: z.string().max(128),
  cpuModel: z.string().max(128),
  cores: z.number().int().positive(),
  memoryMB: z.number().int().nonnegative(),
  storage: z.array(StorageDevice).max(64),
  /** Class of the device holding the data directory (what etcd would write to). */
  dataStorageClass: StorageClass,
  macs: z.array(z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)).max(32),
  fsync: FsyncProbe.nullable(),
  /** The data directory is in RAM (tmpfs/ramfs: netbooted without a state disk); lost at power-off. */
  ramOnly: z.boolean().default(false),
  /** Netbooted: which disk holds the state, or why none ("on /dev/vda (labelled …)", "in RAM …: why"). */
  stateDisk: z.string().max(400).optional(),
  /** 'machine' when read from the hardware, 'profile:NAME' when simulated. */
  source: z.string().max(64),
})
export type Facts = z.infer<typeof Facts>
