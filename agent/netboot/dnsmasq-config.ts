import { isIP } from 'node:net'
import { z } from 'zod'
import { Mac } from './mac.js'
import { TFTP_FILES } from './tftp-layout.js'

// dnsmasq.conf for one node (pure). Proxy mode (default) answers only PXE clients and
// leaves addresses to the LAN's own DHCP server, so homecloud never becomes a second
// DHCP server; plain DHCP mode hands out addresses and exists only for a segment the
// user dedicates to the cluster. Either way: TFTP serves iPXE (x86) or GRUB (arm64 UEFI,
// grub.ts), and both are pointed at this node's HTTP server. Field notes behind the choices: no-ping saves ~3 s; option
// 175.176 stops iPXE waiting ~3 s for proxy offers; in proxy mode the iPXE stage must be
// a pxe-service (dhcp-boot is ignored there).

const Ifname = z.string().regex(/^[a-zA-Z0-9_.-]{1,15}$/, 'an interface name is 1–15 letters, digits, _ . -')
const Ipv4 = z.string().refine((s) => isIP(s) === 4, 'an IPv4 address')
/** Paths end up in a config file: one line, and no quoting tricks. */
const SafePath = z.string().regex(/^\/[^\n\r,"]*$/, 'an absolute path without newlines, commas or quotes')

export const DnsmasqConfigInput = z.object({
  mode: z.enum(['proxy', 'dhcp']),
  interface: Ifname,
  /** This node's address and prefix length on that interface. */
  address: Ipv4,
  prefixLength: z.number().int().min(8).max(30),
  /** Plain DHCP mode only. */
  dhcpRange: z
    .object({ start: Ipv4, end: Ipv4, leaseSeconds: z.number().int().min(120).max(86_400) })
    .optional(),
  tftpRoot: SafePath,
  /** The iPXE stage's script URL, e.g. http://10.77.1.2:7080/netboot/boot.ipxe */
  scriptUrl: z.string().regex(/^http:\/\/[0-9a-zA-Z.:-]+\/[A-Za-z0-9/._-]*$/, 'an http URL without query'),
  /** `known`: only these MACs get an answer; `any`: every machine. */
  adoption: z.enum(['any', 'known']),
  knownMacs: z.array(Mac).max(4096),
  raspberryPi: z.boolean(),
  /** This node serves an arm64 image: arm64 UEFI firmware (client arch 11) gets GRUB. */
  arm64: z.boolean(),
  leaseFile: SafePath,
  /** dnsmasq drops root to this user after binding; the TFTP files must be readable by it. */
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/),
})
export type DnsmasqConfigInput = z.infer<typeof DnsmasqConfigInput>

/** dnsmasq's `netmask` for a prefix length. */
export function prefixToNetmask(prefixLength: number): string {
  const bits = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.')
}

/** The network address of address/prefixLength. */
export function networkAddress(address: string, prefixLength: number): string {
  const n = address.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0)
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0
  const net = (n & mask) >>> 0
  return [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')
}

export function renderDnsmasqConfig(raw: DnsmasqConfigInput): string {
  const c = DnsmasqConfigInput.parse(raw)
  const mask = prefixToNetmask(c.prefixLength)
  const lines: string[] = [
    '# Written by the homecloud agent (agent/netboot/dnsmasq-config.ts); changes are overwritten.',
    'port=0', // no DNS: only DHCP/PXE and TFTP
    `interface=${c.interface}`,
    'bind-interfaces',
    `user=${c.user}`,
    'log-facility=-',
    'log-dhcp',
    'no-ping',
    'dhcp-no-override',
    `dhcp-leasefile=${c.leaseFile}`,
    'enable-tftp',
    `tftp-root=${c.tftpRoot}`,
    // iPXE announces itself with option 175; that stage gets the HTTP script.
    'dhcp-match=set:ipxe,175',
    'dhcp-option=encap:175,176,1b',
  ]
  if (c.mode === 'proxy') {
    // Under `known` the proxy range itself is limited to adopted MACs: dhcp-ignore alone did
    // not stop dnsmasq 2.90 sending a stranger a (serviceless) proxy offer.
    const onlyAdopted = c.adoption === 'known' ? 'tag:adopt,' : ''
    lines.push(`dhcp-range=${onlyAdopted}${networkAddress(c.address, c.prefixLength)},proxy,${mask}`)
  } else {
    if (!c.dhcpRange) throw new Error('assertion: dhcp mode needs dhcpRange (the config schema requires it)')
    const r = c.dhcpRange
    lines.push(`dhcp-range=${r.start},${r.end},${mask},${r.leaseSeconds}s`)
    // A dedicated segment has no way out: no default route, no DNS server.
    lines.push('dhcp-option=option:router', 'dhcp-option=option:dns-server')
  }
  if (c.adoption === 'known') {
    // Everything not listed is ignored outright: no offer, no PXE menu, no TFTP name.
    for (const mac of [...new Set(c.knownMacs)].sort()) lines.push(`dhcp-mac=set:adopt,${mac}`)
    lines.push('dhcp-ignore=tag:!adopt')
  }
  if (c.raspberryPi) {
    // The Pi bootloader wants option 43 naming "Raspberry Pi Boot"; pxe-service encodes it.
    // It then fetches <serial>/start4.elf … over TFTP (rpi.ts, tftp-layout.ts).
    lines.push('dhcp-vendorclass=set:rpi,PXEClient:Arch:00000:UNDI:002001')
    lines.push(`pxe-service=tag:rpi,${c.adoption === 'known' ? 'tag:adopt,' : ''}0,"Raspberry Pi Boot"`)
  }
  // dhcp-ignore alone did not stop proxy PXE answers to a stranger in the VM test (dnsmasq
  // 2.90 logged `PXE(eth0) <mac> proxy`): every boot service also needs the adopt tag.
  const adopt = c.adoption === 'known' ? 'tag:adopt,' : ''
  const notPi = `${adopt}${c.raspberryPi ? 'tag:!rpi,' : ''}`
  lines.push(
    `pxe-service=tag:!ipxe,${notPi}x86PC,"homecloud (BIOS)",${TFTP_FILES.bios}`,
    `pxe-service=tag:!ipxe,${adopt}BC_EFI,"homecloud (UEFI)",${TFTP_FILES.efi}`,
    `pxe-service=tag:!ipxe,${adopt}X86-64_EFI,"homecloud (UEFI)",${TFTP_FILES.efi}`,
    `pxe-service=tag:ipxe,${notPi}x86PC,"homecloud",${c.scriptUrl}`,
    `pxe-service=tag:ipxe,${adopt}BC_EFI,"homecloud",${c.scriptUrl}`,
    `pxe-service=tag:ipxe,${adopt}X86-64_EFI,"homecloud",${c.scriptUrl}`,
  )
  // Debian has no arm64 iPXE: GRUB fetches its script from us over HTTP by itself.
  if (c.arm64)
    lines.push(`pxe-service=tag:!ipxe,${adopt}ARM64_EFI,"homecloud (arm64 UEFI)",${TFTP_FILES.arm64Efi}`)
  if (c.mode === 'dhcp') {
    // With addresses from us, PXE clients also honour the plain boot file name.
    lines.push(
      'dhcp-match=set:efi64,option:client-arch,7',
      'dhcp-match=set:efi64,option:client-arch,9',
      'dhcp-match=set:efiarm64,option:client-arch,11',
      `dhcp-boot=tag:ipxe,${c.scriptUrl}`,
      ...(c.arm64 ? [`dhcp-boot=tag:!ipxe,tag:efiarm64,${TFTP_FILES.arm64Efi}`] : []),
      `dhcp-boot=tag:!ipxe,tag:efi64,${TFTP_FILES.efi}`,
      `dhcp-boot=tag:!ipxe,tag:!efi64,tag:!efiarm64,${TFTP_FILES.biosFile}`,
    )
  }
  return `${lines.join('\n')}\n`
}
