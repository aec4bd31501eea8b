import { statfs } from 'node:fs/promises'

// Is a directory held in RAM? A netbooted machine without a state disk keeps its state
// on the initramfs root (tmpfs or ramfs) or on a tmpfs of its own (/init mounts one for
// the kubelet): everything there, etcd's data with it, is gone at the next power cut, so
// placement never gives such a node an etcd seat (issue 15).

/** statfs f_type of the filesystems that live in RAM (linux/magic.h). */
export const RAM_FS_MAGIC = { tmpfs: 0x01021994, ramfs: 0x858458f6 } as const

export function isRamFsType(type: number): boolean {
  return type === RAM_FS_MAGIC.tmpfs || type === RAM_FS_MAGIC.ramfs
}

/** True when `dir` is on tmpfs or ramfs; false when it is on anything else or cannot be read. */
export async function inRam(dir: string): Promise<boolean> {
  const s = await statfs(dir).catch(() => null)
  return s !== null && isRamFsType(s.type)
}
