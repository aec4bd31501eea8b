import { KERNEL_BASE_ARGS } from '../netboot/cmdline.js'
import { PI_CMDLINE_FILES, type PiBoard, renderPiConfigTxt } from '../netboot/rpi.js'
import type { ReleaseArch } from '../release/manifest.js'
import { PART } from './disk-layout.js'
import type { BootState, SlotName } from './types.js'

// The Raspberry Pi's own A/B mechanism, as files (pure). Its EEPROM bootloader reads
// autoboot.txt from partition 1: with `tryboot_a_b=1` it boots the partition named in
// [all], and — once, after `reboot '0 tryboot'` — the one named in [tryboot]. Every
// other boot (a crash, the watchdog, a power cut) is a normal boot. So the Pi honours
// exactly one try, and the firmware keeps no counter of its own: rpi-state.ts counts
// the try before the reboot, as tries.ts's boot() would have at power-on.
//
// Each slot partition is a complete Pi boot partition: the firmware (start4.elf,
// fixup4.dat), the device trees and kernel from Debian's linux-image-arm64, the
// initramfs, and this slot's own config.txt and command lines — cmdline.txt for a Pi 4,
// cmdline-pi5.txt for a Pi 5 (config.txt's [pi5] names it) — which say which slot it is,
// so /init and the agent know what booted.

export const AUTOBOOT_FILE = 'autoboot.txt'
export const CONFIG_FILE = 'config.txt'
export const CMDLINE_FILE = 'cmdline.txt'

/** Kernel consoles under the upstream kernel: the screen, then the Pi 4's GPIO 14/15 UART or the Pi 5's debug UART. */
export const RPI_CONSOLE_ARGS: Record<PiBoard, readonly string[]> = {
  pi4: KERNEL_BASE_ARGS.rpi4.filter((a) => a.startsWith('console=')),
  pi5: KERNEL_BASE_ARGS.rpi5.filter((a) => a.startsWith('console=')),
}

/**
 * autoboot.txt for a state: [all] boots the good slot; [tryboot] the slot being tried,
 * or the good one again when nothing is (a stray `reboot '0 tryboot'` then changes
 * nothing, and never boots a slot being written).
 */
export function renderAutobootTxt(s: Pick<BootState, 'good' | 'trying'>): string {
  const good = PART[s.good ?? 'a']
  const tryboot = s.trying ? PART[s.trying] : good
  return [
    '# Written by the homecloud agent (agent/slots/rpi-files.ts): the A/B slots.',
    '[all]',
    'tryboot_a_b=1',
    `boot_partition=${good}`,
    '[tryboot]',
    `boot_partition=${tryboot}`,
    '',
  ].join('\n')
}

/** config.txt of a slot: the netbooted Pi's (64-bit, upstream kernel and device trees, serial console). */
export function renderSlotConfigTxt(): string {
  return renderPiConfigTxt('agent/slots/rpi-files.ts, with this slot')
}

/** A FAT volume id (8 hex digits, as mkfs.vfat -i takes it) the way blkid and findfs print it. */
export function fatVolumeUuid(hex8: string): string {
  if (!/^[0-9a-fA-F]{8}$/.test(hex8)) throw new Error(`assertion: FAT volume id ${hex8}`)
  const up = hex8.toUpperCase()
  return `${up.slice(0, 4)}-${up.slice(4)}`
}

/** cmdline.txt of a slot: one line; the slot and its filesystem, so /init mounts what booted. */
export function renderSlotCmdline(slot: SlotName, volumeUuid: string, board: PiBoard = 'pi4'): string {
  return `${[
    ...RPI_CONSOLE_ARGS[board],
    'panic=-1',
    'quiet',
    'homecloud.firmware=rpi',
    `homecloud.slot=${slot}`,
    `homecloud.slotfs=${volumeUuid}`,
  ].join(' ')}\n`
}

/** The generated files a slot carries besides the release (none on amd64: GRUB passes the command line). */
export function slotFilesFor(arch: ReleaseArch, slot: SlotName, volumeUuid: string): Record<string, string> {
  if (arch !== 'arm64') return {}
  return {
    [CONFIG_FILE]: renderSlotConfigTxt(),
    [PI_CMDLINE_FILES.pi4]: renderSlotCmdline(slot, volumeUuid, 'pi4'),
    [PI_CMDLINE_FILES.pi5]: renderSlotCmdline(slot, volumeUuid, 'pi5'),
  }
}
