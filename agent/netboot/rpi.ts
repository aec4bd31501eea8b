import { z } from 'zod'
import { type BootParams, buildKernelCmdline } from './cmdline.js'

// Raspberry Pi network boot (pure). A Pi 4's EEPROM bootloader sends DHCP with the
// vendor class PXEClient:Arch:00000:UNDI:002001, wants option 43 "Raspberry Pi Boot"
// (dnsmasq-config.ts), then fetches over TFTP from `<serial>/` — start4.elf first; when
// neither start4.elf nor start.elf is there it clears the prefix and uses the root — then
// config.txt, fixup4.dat, the device tree, cmdline.txt, the kernel and initramfs it names.
// The firmware and device trees come from the arm64 image (raspi-firmware and Debian's
// arm64 kernel); config.txt and cmdline.txt are written by the node.

/** Raspberry Pi serial numbers as the bootloader prints them: 8 lower-case hex digits. */
export const PiSerial = z.string().regex(/^[0-9a-f]{8}$/, 'a Raspberry Pi serial is 8 lower-case hex digits')

/** The files of the arm64 image a Pi 4 fetches (build.sh puts them in the image; "firmware" in its manifest). */
export const PI_IMAGE_FILES = [
  'start4.elf',
  'fixup4.dat',
  'bcm2711-rpi-4-b.dtb',
  'bcm2711-rpi-400.dtb',
  'bcm2711-rpi-cm4-io.dtb',
  'vmlinuz',
  'initrd.img',
] as const

/** The generated ones. The bootloader asks for cmdline.txt last before the kernel: that marks the Pi served. */
export const PI_CONFIG_FILE = 'config.txt'
export const PI_CMDLINE_FILE = 'cmdline.txt'

/**
 * config.txt for every Pi. [pi4] covers the Pi 4, 400 and CM4 (bcm2711). The Pi 5 has
 * no section: Debian 12's kernel (6.1) carries no Raspberry Pi 5 device tree (bcm2712),
 * nor a driver for its Ethernet (RP1), so its firmware finds no kernel here and moves on.
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
    '[all]',
    '',
  ].join('\n')
}

/** cmdline.txt: one line, the same homecloud.* keys iPXE and GRUB pass, without a MAC. */
export function renderPiCmdline(params: Omit<BootParams, 'mac'>): string {
  return `${buildKernelCmdline({ ...params, mac: undefined }, 'rpi4')}\n`
}

/** True when a TFTP path (as dnsmasq logs it) is the Pi's cmdline.txt, in a serial folder or the root. */
export function isPiCmdlinePath(path: string): boolean {
  return path === PI_CMDLINE_FILE || path.endsWith(`/${PI_CMDLINE_FILE}`)
}
