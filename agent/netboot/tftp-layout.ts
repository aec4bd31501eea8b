import { join } from 'node:path'
import { GRUB_EFI_FILE } from './grub.js'
import { PI_CMDLINE_FILES, PI_CONFIG_FILE, PI_IMAGE_FILES, type PiBoard, PiSerial } from './rpi.js'

// What this node's TFTP root holds (pure): iPXE for x86 firmware; GRUB for arm64 UEFI
// firmware (with this node's address written in); and for Raspberry Pis an `rpi/` folder
// (the image's firmware, device trees, kernel and initramfs, plus the generated
// config.txt and each board's command line), a folder per known serial number pointing at it (where a
// Pi's bootloader looks first), and the same files in the root, where it falls back.

/** Boot file names in the TFTP root. For x86PC dnsmasq appends ".0" to the basename itself. */
export const TFTP_FILES = {
  bios: 'undionly',
  biosFile: 'undionly.0',
  efi: 'ipxe.efi',
  arm64Efi: GRUB_EFI_FILE,
} as const

export const PI_DIR = 'rpi'

export type TftpEntry =
  /** Copied: dnsmasq drops root, and the TFTP user must be able to read it. */
  | { path: string; kind: 'copy'; target: string }
  | { path: string; kind: 'symlink'; target: string }
  /** Written by the node; rewritten when its content changes (cmdline.txt follows the live peers). */
  | { path: string; kind: 'file'; content: Buffer }

export interface TftpLayoutInput {
  ipxeDir: string
  /** This node's GRUB (grub.ts: grubImageFor), when it serves an arm64 image. */
  grub?: Buffer
  /** Raspberry Pi boot files, when this node serves Pis (needs the arm64 image). */
  pi?: {
    imageDir: string
    serials: readonly string[]
    configTxt: string
    /** Each board's command line (cmdline.txt for a Pi 4, cmdline-pi5.txt for a Pi 5). */
    cmdlines: Record<PiBoard, string>
  }
}

export function tftpLayout(input: TftpLayoutInput): TftpEntry[] {
  const entries: TftpEntry[] = [
    { path: TFTP_FILES.biosFile, kind: 'copy', target: `${input.ipxeDir}/undionly.kpxe` },
    { path: TFTP_FILES.efi, kind: 'copy', target: `${input.ipxeDir}/ipxe.efi` },
    { path: 'snponly.efi', kind: 'copy', target: `${input.ipxeDir}/snponly.efi` },
  ]
  if (input.grub) entries.push({ path: TFTP_FILES.arm64Efi, kind: 'file', content: input.grub })
  if (input.pi) {
    const pi = input.pi
    for (const f of PI_IMAGE_FILES) {
      entries.push({ path: `${PI_DIR}/${f}`, kind: 'symlink', target: join(pi.imageDir, f) })
    }
    entries.push({ path: `${PI_DIR}/${PI_CONFIG_FILE}`, kind: 'file', content: Buffer.from(pi.configTxt) })
    const boards = Object.keys(PI_CMDLINE_FILES) as PiBoard[]
    for (const b of boards) {
      entries.push({
        path: `${PI_DIR}/${PI_CMDLINE_FILES[b]}`,
        kind: 'file',
        content: Buffer.from(pi.cmdlines[b]),
      })
    }
    for (const f of [...PI_IMAGE_FILES, PI_CONFIG_FILE, ...boards.map((b) => PI_CMDLINE_FILES[b])]) {
      entries.push({ path: f, kind: 'symlink', target: `${PI_DIR}/${f}` })
    }
    for (const serial of [...new Set(pi.serials)].sort()) {
      entries.push({ path: PiSerial.parse(serial), kind: 'symlink', target: PI_DIR })
    }
  }
  return entries
}
