import { labBridgeNames } from '../netns/names.js'

// Names and addresses of the lab's netboot pieces, from (labIndex, vm) alone (pure),
// so `lab down` finds them after any crash.

/** The "home router" of a netns lab hands out addresses from here (nodes sit below .100). */
export const ROUTER_RANGE = { first: 100, last: 250 } as const
export const vmIndexMax = 99

export function tapName(labIndex: number, vm: number): string {
  return `hc${labIndex}t${vm}`
}

export function isTapOfLab(name: string, labIndex: number): boolean {
  return new RegExp(`^hc${labIndex}t\\d{1,2}$`).test(name)
}

/** Locally administered, fixed per lab and VM, so a VM keeps its MAC (and its name) across runs. */
export function vmMac(labIndex: number, vm: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0')
  return `52:54:00:4c:${hex(labIndex)}:${hex(vm)}`
}

/** The name the netbooted agent gives itself (images/netboot/init: pxe- and the last 3 MAC bytes). */
export function vmNodeName(mac: string): string {
  return `pxe-${mac.replaceAll(':', '').slice(6)}`
}

export function routerIpv6(labIndex: number): string {
  return `fd77:${labIndex.toString(16)}::1/64`
}

/**
 * dnsmasq arguments for the lab's router on the host side of the bridge: plain DHCP
 * for the VMs (no gateway, no DNS: the lab has no way out) and IPv6 router
 * advertisements (router lifetime 0: not a default route), without which the 2019 iPXE
 * in Debian waits ~13 s for one. Nodes keep their static addresses below .100.
 */
export function routerArgs(labIndex: number, leaseFile: string): string[] {
  const b = labBridgeNames(labIndex)
  const prefix = b.bridgeAddress.split('.').slice(0, 3).join('.')
  return [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${b.bridge}`,
    '--bind-interfaces',
    '--log-facility=-',
    `--dhcp-range=${prefix}.${ROUTER_RANGE.first},${prefix}.${ROUTER_RANGE.last},255.255.255.0,1h`,
    '--dhcp-option=option:router',
    '--dhcp-option=option:dns-server',
    `--dhcp-range=::,constructor:${b.bridge},ra-only`,
    '--enable-ra',
    `--ra-param=${b.bridge},0,0`,
    '--no-ping',
    `--dhcp-leasefile=${leaseFile}`,
    '--pid-file=',
  ]
}
