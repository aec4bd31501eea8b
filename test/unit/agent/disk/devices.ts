import type { BlockDevice } from '../../../../agent/disk/state-disk.js'

// One way to write a block device as lsblk reports it, for the state-disk tests: an empty,
// writable, unmounted disk of `size` bytes unless `extra` says otherwise.

export const GiB = 1024 ** 3

export const disk = (name: string, extra: Partial<BlockDevice> = {}, size = 32 * GiB): BlockDevice => ({
  name,
  path: `/dev/${name}`,
  size,
  type: 'disk',
  rm: false,
  ro: false,
  fstype: null,
  label: null,
  pttype: null,
  mountpoint: null,
  ...extra,
})

export const part = (name: string, extra: Partial<BlockDevice> = {}): BlockDevice =>
  disk(name, { type: 'part', ...extra })
