import { z } from 'zod'
import { type BootParams, buildKernelCmdline } from './cmdline.js'

// Raspberry Pi network boot (pure). A Pi 4's or 5's EEPROM bootloader sends DHCP with the
// vendor class PXEClient:Arch:00000:UNDI:002001, wants option 43 "Raspberry Pi Boot"
// (dnsmasq-config.ts), then fetches over TFTP from `<serial>/` — start4.elf first; when
// neither start4.elf nor start.elf is there it clears the prefix and uses the root — then
// config.txt. A Pi 4 then runs start4.elf (with fixup4.dat), which loads the device tree,
// cmdline.txt, the kernel and initramfs config.txt names. A Pi 5's bootloader has that
// firmware built in (it only looks for start4.elf to settle the prefix) and loads the
// same kinds of files itself: its device tree, the command line config.txt names for it,
// the kernel and initramfs. The firmware and device trees come from the arm64 image
// (raspi-firmware and Debian 13's arm64 kernel, which has the Pi 5's device trees and
// RP1 Ethernet); config.txt and the command lines are written by the node.

/** Raspberry Pi serial numbers as the bootloader prints them: 8 lower-case hex digits. */
export const PiSerial = z.string().regex(/^[0-9a-f]{8}$/, 'a Raspberry Pi serial is 8 lower-case hex digits')

/** The files of the arm64 image a Pi 4 or 5 fetches (build.sh puts them in the image; "firmware" in its manifest). */
export const PI_IMAGE_FILES = [
  'start4.elf',
  'fixup4.dat',
  'bcm2711-rpi-4-b.dtb',
  'bcm2711-rpi-400.dtb',
  'bcm2711-rpi-cm4-io.dtb',
  'bcm2712-rpi-5-b.dtb',
  'bcm2712-d-rpi-5-b.dtb',
  'bcm2712d0-rpi-5-b.dtb',
  'vmlinuz',
  'initrd.img',
] as const

/** The boards served, by config.txt's section names: they differ only in their serial console. */
export type PiBoard = 'pi4' | 'pi5'

/** The generated ones. The bootloader asks for the command line last before the kernel: that marks the Pi served. */
export const PI_CONFIG_FILE = 'config.txt'
export const PI_CMDLINE_FILE = 'cmdline.txt'
/** The Pi 5's command line (config.txt's [pi5] names it): its console is another UART. */
export const PI5_CMDLINE_FILE = 'cmdline-pi5.txt'
export const PI_CMDLINE_FILES: Record<PiBoard, string> = { pi4: PI_CMDLINE_FILE, pi5: PI5_CMDLINE_FILE }

/**
 * config.txt for every Pi. [pi4] covers the Pi 4, 400 and CM4 (bcm2711); [pi5] the Pi 5
 * (bcm2712, C1 and D0 steppings). Both boot the image's one kernel and initramfs; the Pi 5
 * reads its own command line, whose console is its debug UART connector.
 * A disk slot carries the same file (agent/slots/rpi-files.ts): one Pi, one config.
 */
export function renderPiConfigTxt(writer = 'agent/netboot/rpi.ts'): string {
  return [
    `# Written by the homecloud agent (${writer}); changes are overwritten.`,
    '[pi4]',
    '# 64-bit, with the upstream kernel and its device trees (bcm2711-rpi-4-b.dtb, -400, -cm4-io).',
    'arm_64bit=1',
    'upstream_kernel=1',
    '# The serial console on GPIO 14/15 (ttyS1), where /init tells how the boot goes.',
    'enable_uart=1',
    'kernel=vmlinuz',
    'initramfs initrd.img followkernel',
    '[pi5]',
    '# The bootloader loads the kernel itself (no start4.elf): the same kernel and initramfs,',
    '# the upstream device tree (bcm2712-rpi-5-b.dtb; bcm2712d0-rpi-5-b.dtb on the D0 stepping).',
    'upstream_kernel=1',
    'kernel=vmlinuz',
    'initramfs initrd.img followkernel',
    '# Its console is the debug UART connector (ttyAMA10): its own command line says so.',
    `cmdline=${PI5_CMDLINE_FILE}`,
    '[all]',
    '',
  ].join('\n')
}

/** A Pi's command line: one line, the same homecloud.* keys iPXE and GRUB pass, without a MAC. */
export function renderPiCmdline(params: Omit<BootParams, 'mac'>, board: PiBoard = 'pi4'): string {
  return `${buildKernelCmdline({ ...params, mac: undefined }, board === 'pi5' ? 'rpi5' : 'rpi4')}\n`
}

/** True when a TFTP path (as dnsmasq logs it) is a Pi's command line, in a serial folder or the root. */
export function isPiCmdlinePath(path: string): boolean {
  return Object.values(PI_CMDLINE_FILES).some((f) => path === f || path.endsWith(`/${f}`))
}
