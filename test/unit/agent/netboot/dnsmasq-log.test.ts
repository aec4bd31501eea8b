import assert from 'node:assert/strict'
import { test } from 'node:test'
import { dnsmasqLineLevel, macFromArpTable, parseDnsmasqLine } from '../../../../agent/netboot/dnsmasq-log.js'

test('PXE answers and TFTP transfers become boot stages (lines as dnsmasq 2.90 writes them)', () => {
  assert.deepEqual(parseDnsmasqLine('dnsmasq-dhcp[20670]: 2403356265 PXE(eth0) 52:54:00:12:34:56 proxy'), {
    kind: 'pxe',
    mac: '52:54:00:12:34:56',
    ip: null,
    ipxe: false,
  })
  assert.deepEqual(
    parseDnsmasqLine(
      'dnsmasq-dhcp[20670]: 0 PXE(eth0) 10.99.0.157 52:54:00:12:34:56 http://10.99.0.2:8080/netboot/boot.ipxe',
    ),
    { kind: 'pxe', mac: '52:54:00:12:34:56', ip: '10.99.0.157', ipxe: true },
  )
  assert.deepEqual(parseDnsmasqLine('dnsmasq-tftp[1]: sent /x/tftp/ipxe.efi to 10.77.1.101'), {
    kind: 'tftp',
    file: '/x/tftp/ipxe.efi',
    ip: '10.77.1.101',
  })
  assert.equal(parseDnsmasqLine('dnsmasq-dhcp[1]: 0 vendor class: PXEClient'), null)
})

test('option dumps are debug, failures are warnings', () => {
  assert.equal(dnsmasqLineLevel('dnsmasq-dhcp[1]: 0 sent size:  1 option: 53 message-type  5'), 'debug')
  assert.equal(
    dnsmasqLineLevel('dnsmasq: failed to create listening socket for port 67: Address in use'),
    'warn',
  )
  assert.equal(dnsmasqLineLevel('dnsmasq-dhcp[1]: DHCP, proxy on subnet 10.77.1.0'), 'info')
})

test('the MAC behind a TFTP client comes from the neighbour table', () => {
  const arp = [
    'IP address       HW type     Flags       HW address            Mask     Device',
    '10.77.4.160      0x1         0x2         52:54:00:4C:04:02     *        eth0',
    '10.77.4.161      0x1         0x0         00:00:00:00:00:00     *        eth0',
  ].join('\n')
  assert.equal(macFromArpTable(arp, '10.77.4.160'), '52:54:00:4c:04:02')
  assert.equal(macFromArpTable(arp, '10.77.4.161'), undefined)
  assert.equal(macFromArpTable(arp, '10.77.4.1'), undefined)
})
