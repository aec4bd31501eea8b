import { z } from 'zod'
import { Sha256Hex } from '../core/ids.js'
import { ClusterId } from '../mesh/cluster-id.js'
import { StateDiskPolicy } from '../state/cluster-file.js'
import { Mac } from './mac.js'

// The kernel command line is how the serving node tells the booted machine where it came
// from: images/netboot/init reads these keys with sed. Building and parsing live together
// so the two sides cannot drift; values never contain spaces (the line splits on them).

/** `KEY@IP:PORT` (64-hex ed25519 key) — the mesh bootstrap entries the initramfs passes on. */
export const PeerEntry = z
  .string()
  .regex(/^[0-9a-f]{64}@\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/, 'a peer is KEY@IP:PORT with a 64-hex key')

export const BootParams = z.object({
  /** Base URL of the serving node's netboot routes, e.g. http://10.77.1.2:7080/netboot */
  url: z
    .string()
    .max(200)
    .regex(/^http:\/\/[0-9a-zA-Z.:[\]-]+\/netboot$/, 'url is http://HOST:PORT/netboot'),
  image: Sha256Hex,
  cluster: ClusterId,
  peers: z.array(PeerEntry).max(8),
  /** Absent for a Raspberry Pi: one cmdline.txt serves every Pi, and /init takes its NIC's MAC. */
  mac: Mac.optional(),
  /** The cluster's state-disk policy; absent: labelled-only (images/netboot/init). */
  statedisk: StateDiskPolicy.optional(),
})
export type BootParams = z.infer<typeof BootParams>

/** Which machines the kernel boots on: it decides the consoles. */
export type KernelConsoles = 'amd64' | 'arm64' | 'rpi4' | 'rpi5'

/**
 * Arguments every netbooted kernel gets: the screen and the serial console (the last
 * console= becomes /dev/console, where /init writes), reboot on panic, quiet.
 * amd64: ttyS0; no_timer_check because on a loaded host an emulated (TCG) guest failed
 * the IO-APIC timer check and panicked ("IO-APIC + timer doesn't work").
 * arm64: the PL011 UART (ttyAMA0) of qemu's `virt` machine and most arm64 servers.
 * rpi4: the mini UART on GPIO 14/15 (ttyS1 under the upstream kernel, as Debian's
 * raspi-firmware sets it).
 * rpi5: the Pi 5's debug UART connector (ttyAMA10: serial10, the device tree's stdout-path).
 */
export const KERNEL_BASE_ARGS: Record<KernelConsoles, readonly string[]> = {
  amd64: ['console=tty0', 'console=ttyS0,115200', 'panic=-1', 'quiet', 'no_timer_check'],
  arm64: ['console=tty0', 'console=ttyAMA0,115200', 'panic=-1', 'quiet'],
  rpi4: ['console=tty0', 'console=ttyS1,115200', 'panic=-1', 'quiet'],
  rpi5: ['console=tty0', 'console=ttyAMA10,115200', 'panic=-1', 'quiet'],
}

export function buildKernelCmdline(p: BootParams, consoles: KernelConsoles = 'amd64'): string {
  const params = BootParams.parse(p)
  return [
    ...KERNEL_BASE_ARGS[consoles],
    `homecloud.url=${params.url}`,
    `homecloud.image=${params.image}`,
    `homecloud.cluster=${params.cluster}`,
    ...(params.peers.length > 0 ? [`homecloud.peers=${params.peers.join(',')}`] : []),
    ...(params.mac ? [`homecloud.mac=${params.mac}`] : []),
    ...(params.statedisk ? [`homecloud.statedisk=${params.statedisk}`] : []),
  ].join(' ')
}

/** The inverse, as /init reads it (the last occurrence of a key wins); null fields are missing. */
export function parseKernelCmdline(line: string): z.ZodSafeParseResult<BootParams> {
  const seen = new Map<string, string>()
  for (const word of line.trim().split(/\s+/)) {
    const m = /^homecloud\.([a-z]+)=(.*)$/.exec(word)
    if (m) seen.set(m[1]!, m[2]!)
  }
  const peers = seen.get('peers')
  return BootParams.safeParse({
    url: seen.get('url'),
    image: seen.get('image'),
    cluster: seen.get('cluster'),
    peers: peers ? peers.split(',').filter(Boolean) : [],
    mac: seen.get('mac'),
    ...(seen.has('statedisk') ? { statedisk: seen.get('statedisk') } : {}),
  })
}
