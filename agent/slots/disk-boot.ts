import { readFile } from 'node:fs/promises'
import type { Clock } from '../core/clock.js'
import type { ReleaseArch } from '../release/manifest.js'
import { GrubBootSlots } from './grub.js'
import type { SlotName } from './types.js'

// A machine booted from a homecloud disk, as the agent finds it: GRUB's grub.cfg
// (grub-script.ts) puts `homecloud.firmware=grub homecloud.slot=a|b` on the kernel
// command line, and /init's disk mode (images/netboot/disk.sh) mounts the partitions at
// DISK_MOUNTS. The agent's slot backend for such a machine is GrubBootSlots over them.

/** Where /init's disk mode mounts a homecloud disk (images/netboot/disk.sh keeps the same). */
export const DISK_MOUNTS = {
  boot: '/boot',
  slots: { a: '/run/slots/a', b: '/run/slots/b' },
  state: '/var/lib/homecloud',
} as const

export interface DiskBootParams {
  firmware: 'grub' | 'rpi-tryboot'
  slot: SlotName
}

/** The disk boot named on a kernel command line, or null for any other boot (netboot, lab, a plain install). */
export function diskBootParams(cmdline: string): DiskBootParams | null {
  const params = new Map<string, string>()
  for (const word of cmdline.trim().split(/\s+/)) {
    const m = /^homecloud\.(firmware|slot)=(.*)$/.exec(word)
    if (m) params.set(m[1]!, m[2]!)
  }
  const firmware = params.get('firmware')
  const slot = params.get('slot')
  if (slot !== 'a' && slot !== 'b') return null
  if (firmware === 'grub') return { firmware, slot }
  // A Pi's cmdline.txt (rpi-files.ts): its firmware's tryboot picked the slot.
  if (firmware === 'rpi') return { firmware: 'rpi-tryboot', slot }
  return null
}

export async function readDiskBootParams(path = '/proc/cmdline'): Promise<DiskBootParams | null> {
  return diskBootParams(await readFile(path, 'utf8').catch(() => ''))
}

/** The GRUB backend over the partitions /init mounted. */
export function grubSlotsOnDisk(deps: {
  arch: ReleaseArch
  clock: Pick<Clock, 'nowMs'>
  reboot: () => Promise<void>
  mounts?: { boot: string; slots: { a: string; b: string } }
}): GrubBootSlots {
  const m = deps.mounts ?? DISK_MOUNTS
  return new GrubBootSlots({
    arch: deps.arch,
    paths: {
      grubenv: `${m.boot}/grub/grubenv`,
      book: `${m.boot}/homecloud/slots.json`,
      slots: { a: m.slots.a, b: m.slots.b },
    },
    clock: deps.clock,
    reboot: deps.reboot,
  })
}
