import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type DnsmasqConfigInput,
  networkAddress,
  prefixToNetmask,
  renderDnsmasqConfig,
} from '../../../../agent/netboot/dnsmasq-config.js'

const base: DnsmasqConfigInput = {
  mode: 'proxy',
  interface: 'eth0',
  address: '10.77.1.2',
  prefixLength: 24,
  tftpRoot: '/var/lib/homecloud/netboot/tftp',
  scriptUrl: 'http://10.77.1.2:7080/netboot/boot.ipxe',
  adoption: 'any',
  knownMacs: [],
  raspberryPi: false,
  arm64: false,
  leaseFile: '/var/lib/homecloud/netboot/leases',
  user: 'root',
}
const lines = (c: string) => c.trim().split('\n')

test('proxy mode answers PXE only: a proxy range, no address range, no DNS', () => {
  const c = lines(renderDnsmasqConfig(base))
  assert.ok(c.includes('dhcp-range=10.77.1.0,proxy,255.255.255.0'))
  assert.ok(c.includes('port=0'))
  assert.ok(c.includes('interface=eth0'))
  assert.equal(c.filter((l) => l.startsWith('dhcp-range=')).length, 1)
  assert.ok(
    !c.some((l) => l.startsWith('dhcp-boot=')),
    'dhcp-boot is ignored in proxy mode; pxe-service carries the URL',
  )
})

test('iPXE gets the HTTP script; firmware gets iPXE over TFTP (BIOS and UEFI)', () => {
  const c = lines(renderDnsmasqConfig(base))
  assert.ok(c.includes('dhcp-match=set:ipxe,175'))
  assert.ok(c.includes('dhcp-option=encap:175,176,1b'))
  assert.ok(c.includes('no-ping'))
  assert.ok(c.includes('pxe-service=tag:!ipxe,x86PC,"homecloud (BIOS)",undionly'))
  assert.ok(c.includes('pxe-service=tag:!ipxe,BC_EFI,"homecloud (UEFI)",ipxe.efi'))
  assert.ok(c.includes('pxe-service=tag:!ipxe,X86-64_EFI,"homecloud (UEFI)",ipxe.efi'))
  for (const csa of ['x86PC', 'BC_EFI', 'X86-64_EFI'])
    assert.ok(c.includes(`pxe-service=tag:ipxe,${csa},"homecloud",http://10.77.1.2:7080/netboot/boot.ipxe`))
})

test('plain DHCP mode hands out the range, with no router and no DNS, and boot files', () => {
  const c = lines(
    renderDnsmasqConfig({
      ...base,
      mode: 'dhcp',
      dhcpRange: { start: '10.77.1.100', end: '10.77.1.200', leaseSeconds: 3600 },
    }),
  )
  assert.ok(c.includes('dhcp-range=10.77.1.100,10.77.1.200,255.255.255.0,3600s'))
  assert.ok(c.includes('dhcp-option=option:router'))
  assert.ok(c.includes('dhcp-option=option:dns-server'))
  assert.ok(c.includes('dhcp-boot=tag:ipxe,http://10.77.1.2:7080/netboot/boot.ipxe'))
  assert.ok(c.includes('dhcp-boot=tag:!ipxe,tag:!efi64,tag:!efiarm64,undionly.0'))
  assert.ok(!c.some((l) => l.includes(',proxy')))
})

test('adoption `known` ignores every MAC not listed (sorted, deduplicated)', () => {
  const c = lines(
    renderDnsmasqConfig({
      ...base,
      adoption: 'known',
      knownMacs: ['52:54:00:00:00:02', '52:54:00:00:00:01', '52:54:00:00:00:02'],
    }),
  )
  assert.deepEqual(
    c.filter((l) => l.startsWith('dhcp-mac=')),
    ['dhcp-mac=set:adopt,52:54:00:00:00:01', 'dhcp-mac=set:adopt,52:54:00:00:00:02'],
  )
  assert.ok(c.includes('dhcp-ignore=tag:!adopt'))
  assert.ok(
    c.some((l) => /^dhcp-range=tag:adopt,.*,proxy,/.test(l)),
    'the proxy range serves adopted MACs only',
  )
  const services = c.filter((l) => l.startsWith('pxe-service='))
  assert.equal(services.length, 6)
  for (const l of services) assert.match(l, /tag:adopt,/)
  assert.ok(!lines(renderDnsmasqConfig(base)).some((l) => l.startsWith('dhcp-ignore')))
})

test('Raspberry Pi: option 43 "Raspberry Pi Boot" for the Pi vendor class, and BIOS PXE skips Pis', () => {
  const c = lines(renderDnsmasqConfig({ ...base, raspberryPi: true }))
  assert.ok(c.includes('dhcp-vendorclass=set:rpi,PXEClient:Arch:00000:UNDI:002001'))
  assert.ok(c.includes('pxe-service=tag:rpi,0,"Raspberry Pi Boot"'))
  assert.ok(c.includes('pxe-service=tag:!ipxe,tag:!rpi,x86PC,"homecloud (BIOS)",undionly'))
})

test('arm64 UEFI firmware (client arch 11) is offered GRUB over TFTP, only when an arm64 image is served', () => {
  assert.ok(!renderDnsmasqConfig(base).includes('ARM64_EFI'))
  const c = lines(renderDnsmasqConfig({ ...base, arm64: true }))
  assert.ok(c.includes('pxe-service=tag:!ipxe,ARM64_EFI,"homecloud (arm64 UEFI)",grubnetaa64.efi'))
  const known = lines(renderDnsmasqConfig({ ...base, arm64: true, adoption: 'known', knownMacs: [] }))
  assert.ok(
    known.includes('pxe-service=tag:!ipxe,tag:adopt,ARM64_EFI,"homecloud (arm64 UEFI)",grubnetaa64.efi'),
  )
  // Plain DHCP mode: the arm64 boot file, and x86 BIOS's undionly.0 never goes to arm64 firmware.
  const dhcp = lines(
    renderDnsmasqConfig({
      ...base,
      arm64: true,
      mode: 'dhcp',
      dhcpRange: { start: '10.77.1.100', end: '10.77.1.200', leaseSeconds: 3600 },
    }),
  )
  assert.ok(dhcp.includes('dhcp-match=set:efiarm64,option:client-arch,11'))
  assert.ok(dhcp.includes('dhcp-boot=tag:!ipxe,tag:efiarm64,grubnetaa64.efi'))
  assert.ok(dhcp.includes('dhcp-boot=tag:!ipxe,tag:!efi64,tag:!efiarm64,undionly.0'))
})

test('bad values never reach the config file', () => {
  assert.throws(() => renderDnsmasqConfig({ ...base, interface: 'eth0\nenable-ra' }), /interface/)
  assert.throws(() => renderDnsmasqConfig({ ...base, tftpRoot: '/x\ndhcp-range=1.2.3.4' }), /tftpRoot/)
  assert.throws(() => renderDnsmasqConfig({ ...base, knownMacs: ['52:54:00:00:0,:xx'] }), /MAC/)
  assert.throws(() => renderDnsmasqConfig({ ...base, scriptUrl: 'http://x/boot.ipxe?a=b' }), /scriptUrl/)
  assert.throws(() => renderDnsmasqConfig({ ...base, mode: 'dhcp' }), /dhcpRange/)
})

test('netmask and network address', () => {
  assert.equal(prefixToNetmask(24), '255.255.255.0')
  assert.equal(prefixToNetmask(20), '255.255.240.0')
  assert.equal(networkAddress('192.168.17.200', 20), '192.168.16.0')
})
