import { type BootParams, buildKernelCmdline, type KernelConsoles } from './cmdline.js'

// iPXE scripts served at /netboot/boot.ipxe (pure). The DHCP answer can only carry a
// fixed URL, so the first script asks iPXE to come back with its MAC and architecture;
// the second boots the image. Every node renders the same script for the same machine
// and image, except for its own address in the URLs.

export function renderChainScript(base: string, bootId?: string): string {
  // A node keeping netboot slots adds a nonce: the boot's id, so a try is counted once per boot.
  const boot = bootId ? `&boot=${bootId}` : ''
  return [
    '#!ipxe',
    // ${net0/mac} and ${buildarch} are expanded by iPXE; `:hexhyp` would also work but colons are what we parse.
    `chain ${base}/boot.ipxe?mac=\${net0/mac}&arch=\${buildarch}${boot}`,
    '',
  ].join('\n')
}

export interface BootScriptInput {
  params: BootParams
  /** For the console line only. */
  servedBy: string
  /** The image's architecture (an arm64 iPXE someone built themselves boots the arm64 image). */
  consoles?: KernelConsoles
}

export function renderBootScript({ params, servedBy, consoles = 'amd64' }: BootScriptInput): string {
  const image = `${params.url}/image/${params.image}`
  return [
    '#!ipxe',
    `echo homecloud: image ${params.image.slice(0, 12)} for ${params.mac ?? '?'} from ${servedBy}`,
    // The 2019 iPXE in Debian hands the initrd to an EFI-stub kernel only through the
    // kernel's `initrd=NAME` argument (UEFI boots panicked without it; BIOS ignores it).
    `kernel ${image}/vmlinuz initrd=initrd.img ${buildKernelCmdline(params, consoles)}`,
    `initrd --name initrd.img ${image}/initrd.img`,
    'boot',
    '',
  ].join('\n')
}

/** Sent when a machine must not boot from us (adoption refused, no image for its architecture). */
export function renderRefusalScript(reason: string): string {
  // Characters iPXE would interpret are dropped; the reason is ours, not the caller's.
  const safe = reason.replace(/[^A-Za-z0-9 .,:()/_-]/g, '')
  return ['#!ipxe', `echo homecloud: ${safe}`, 'sleep 10', 'exit 1', ''].join('\n')
}
