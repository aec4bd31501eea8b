import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type DnsmasqConfigInput,
  networkAddress,
  prefixToNetmask,
  renderDnsmasqConfig,
  tftpLayout,
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
  assert.ok(c.includes('dhcp-boot=tag:!ipxe,tag:!efi64,undionly.0'))
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

test('Raspberry Pi serial-number TFTP folders point at the Pi boot files', () => {
  const layout = tftpLayout({
    ipxeDir: '/usr/lib/ipxe',
    piBootDir: '/srv/pi',
    piSerials: ['dc1a2b3c', '0a1b2c3d'],
  })
  assert.deepEqual(
    layout.filter((e) => e.kind === 'symlink'),
    [
      { path: '0a1b2c3d', kind: 'symlink', target: '/srv/pi' },
      { path: 'dc1a2b3c', kind: 'symlink', target: '/srv/pi' },
    ],
  )
  assert.deepEqual(
    layout.filter((e) => e.kind === 'copy').map((e) => e.path),
    ['undionly.0', 'ipxe.efi', 'snponly.efi'],
  )
  assert.throws(() => tftpLayout({ ipxeDir: '/x', piBootDir: '/srv/pi', piSerials: ['../etc'] }))
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
