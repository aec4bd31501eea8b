import { type BootParams, buildKernelCmdline, type KernelConsoles } from './cmdline.js'

// The GRUB stage of arm64 UEFI machines (pure). Debian ships no arm64 iPXE, so the
// firmware's own PXE fetches GRUB over TFTP (images/netboot/build.sh builds it with
// grub-early.cfg inside). Debian's GRUB 2.06 ignores the proxyDHCP offer and takes the
// server from the router's DHCP ack, so it cannot find the node that answered: each node
// serves the image with its own address written over a placeholder in the embedded
// config — as the iPXE stage is handed the node's URL. GRUB then asks that node for
// boot.grub?mac=…&arch=…, and gets the same kernel and command line iPXE would.

/** The file name dnsmasq offers arm64 UEFI machines (client arch 11) and the image carries. */
export const GRUB_EFI_FILE = 'grubnetaa64.efi'
/** Must match images/netboot/grub-early.cfg byte for byte. */
export const GRUB_SERVER_PLACEHOLDER = 'HOMECLOUD_SERVER_PLACEHOLDER_FOR_ADDRESS_AND_PORT_________________'

/**
 * The image's GRUB with `server` (HOST:PORT of this node's HTTP) in place of the
 * placeholder, padded with spaces to the same length: the embedded config is plain text
 * inside the PE file, and nothing may move. Throws (a bug or a wrong file) when the
 * placeholder is not there exactly once or the address does not fit.
 */
export function grubImageFor(template: Buffer, server: string): Buffer {
  if (!/^[0-9a-zA-Z.:[\]-]+$/.test(server)) throw new Error(`assertion: ${server} is not HOST:PORT`)
  const placeholder = Buffer.from(GRUB_SERVER_PLACEHOLDER, 'latin1')
  if (server.length > placeholder.length)
    throw new Error(`assertion: ${server} is longer than the placeholder`)
  const at = template.indexOf(placeholder)
  if (at < 0 || template.indexOf(placeholder, at + 1) >= 0) {
    throw new Error(`assertion: ${GRUB_EFI_FILE} must hold the server placeholder exactly once`)
  }
  const out = Buffer.from(template)
  out.write(server.padEnd(placeholder.length, ' '), at, 'latin1')
  return out
}

/** GRUB's name for an HTTP server: http://10.77.1.2:7080/netboot → (http,10.77.1.2:7080)/netboot */
export function grubHttpPath(url: string): string {
  const u = new URL(url)
  return `(http,${u.host})${u.pathname}`
}

export interface GrubScriptInput {
  params: BootParams
  /** For the console line only. */
  servedBy: string
  consoles: KernelConsoles
}

export function renderGrubBootScript({ params, servedBy, consoles }: GrubScriptInput): string {
  const image = `${grubHttpPath(params.url)}/image/${params.image}`
  return [
    `echo "homecloud: image ${params.image.slice(0, 12)} for ${params.mac ?? '?'} from ${servedBy}"`,
    `linux ${image}/vmlinuz ${buildKernelCmdline(params, consoles)}`,
    `initrd ${image}/initrd.img`,
    'boot',
    '',
  ].join('\n')
}

/** Sent (with a 4xx) when a machine must not boot from us; GRUB's embedded config then says so too. */
export function renderGrubRefusal(reason: string): string {
  const safe = reason.replace(/[^A-Za-z0-9 .,:()/_-]/g, '')
  return [`echo "homecloud: ${safe}"`, 'sleep 10', 'reboot', ''].join('\n')
}
