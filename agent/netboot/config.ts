import { isIP } from 'node:net'
import { z } from 'zod'
import { Mac } from './mac.js'
import { PiSerial } from './rpi.js'

const Ipv4 = z.string().refine((s) => isIP(s) === 4, 'an IPv4 address')

/** The `netboot` section of the agent config. Off by default. */
export const NetbootConfig = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * Override: serve this directory (images/netboot/build.sh output) instead of the
     * cluster's current release from this node's release store.
     */
    imageDir: z.string().min(1).optional(),
    /** `proxy` never hands out addresses (the LAN's router does); `dhcp` only on a segment dedicated to the cluster. */
    mode: z.enum(['proxy', 'dhcp']).default('proxy'),
    /** Where dnsmasq answers; default: the interface holding the agent's host address. */
    interface: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]{1,15}$/)
      .optional(),
    dhcpRange: z
      .object({ start: Ipv4, end: Ipv4, leaseSeconds: z.number().int().min(120).max(86_400).default(3600) })
      .optional(),
    /** `any`: every machine that asks; `known`: only knownMacs; `auto`: any under join policy auto, else known. */
    adoption: z.enum(['auto', 'any', 'known']).default('auto'),
    knownMacs: z.array(Mac).max(4096).default([]),
    raspberryPi: z
      .object({
        /** Serve Raspberry Pi 4 and 5 network boot (needs an arm64 image: its firmware, device trees and kernel). */
        enabled: z.boolean().default(false),
        /** Serial numbers that get a TFTP folder of their own (found on the first request); others fall back to the root. */
        serials: z.array(PiSerial).max(4096).default([]),
      })
      .strict()
      .prefault({}),
    /** Run dnsmasq (off: the HTTP routes alone, e.g. behind another PXE server). */
    dnsmasq: z.boolean().default(true),
    dnsmasqBinary: z.string().min(1).default('dnsmasq'),
    /** Debian `ipxe`: undionly.kpxe, ipxe.efi, snponly.efi. */
    ipxeDir: z.string().startsWith('/').default('/usr/lib/ipxe'),
    /** Peers named on a booted machine's kernel command line. */
    peersMax: z.number().int().min(1).max(8).default(8),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mode === 'dhcp' && !c.dhcpRange)
      ctx.addIssue({ code: 'custom', path: ['dhcpRange'], message: 'dhcp mode needs dhcpRange {start, end}' })
  })
export type NetbootConfig = z.infer<typeof NetbootConfig>

/** The policy in force: `auto` follows the cluster's join policy. */
export function effectiveAdoption(
  c: Pick<NetbootConfig, 'adoption'>,
  joinPolicy: 'auto' | 'approve',
): 'any' | 'known' {
  if (c.adoption !== 'auto') return c.adoption
  return joinPolicy === 'auto' ? 'any' : 'known'
}

export function adopts(policy: 'any' | 'known', knownMacs: readonly string[], mac: string): boolean {
  return policy === 'any' || knownMacs.includes(mac)
}
