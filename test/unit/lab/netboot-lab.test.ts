import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isTapOfLab, routerArgs, tapName, vmMac, vmNodeName } from '../../../lab/netboot/names.js'
import { qemuCommand } from '../../../lab/netboot/qemu.js'

test('VM names, MACs and taps derive from the lab index and VM number alone', () => {
  assert.equal(vmMac(3, 1), '52:54:00:4c:03:01')
  assert.equal(vmNodeName('52:54:00:4c:03:01'), 'pxe-4c0301')
  assert.equal(tapName(12, 7), 'hc12t7')
  assert.ok(tapName(200, 99).length <= 15)
  assert.ok(isTapOfLab('hc12t7', 12))
  assert.ok(!isTapOfLab('hc12t7', 1))
  assert.ok(!isTapOfLab('hc12br', 12))
})

test('the lab router hands out .100–.250 with no gateway and no DNS, and sends RAs that are not a default route', () => {
  const a = routerArgs(5, '/tmp/l')
  assert.ok(a.includes('--interface=hc5br'))
  assert.ok(a.includes('--dhcp-range=10.77.5.100,10.77.5.250,255.255.255.0,1h'))
  assert.ok(a.includes('--dhcp-option=option:router'))
  assert.ok(a.includes('--port=0'))
  assert.ok(a.includes('--enable-ra'))
  assert.ok(a.includes('--ra-param=hc5br,0,0'))
})

test('qemu: TCG under timeout, network boot only, no reboot; UEFI drops the NIC ROM and gets its own vars', () => {
  const bios = qemuCommand({
    mac: '52:54:00:4c:01:01',
    tap: 'hc1t1',
    uefi: false,
    consoleLog: '/x/console.log',
  })
  assert.equal(bios.cmd, 'timeout')
  assert.deepEqual(bios.args.slice(0, 3), ['--signal=KILL', '14400s', 'qemu-system-x86_64'])
  const line = bios.args.join(' ')
  assert.match(line, /-machine q35,accel=tcg/)
  assert.match(line, /-no-reboot -boot order=n,reboot-timeout=0/)
  assert.match(line, /-serial file:\/x\/console\.log/)
  assert.doesNotMatch(line, /romfile=|pflash/)
  // A VM to be upgraded reboots for real: the firmware netboots it again.
  const rebooting = qemuCommand({
    mac: '52:54:00:4c:01:01',
    tap: 't',
    uefi: false,
    consoleLog: '/c',
    reboots: true,
  })
  assert.doesNotMatch(rebooting.args.join(' '), /-no-reboot/)
  assert.match(rebooting.args.join(' '), /-boot order=n,reboot-timeout=0/)
  const uefi = qemuCommand({
    mac: '52:54:00:4c:01:02',
    tap: 'hc1t2',
    uefi: true,
    consoleLog: '/x/c.log',
    ovmfVars: '/x/vars.fd',
    lifetimeSeconds: 60,
  }).args.join(' ')
  assert.match(uefi, /virtio-net-pci,netdev=n0,mac=52:54:00:4c:01:02,romfile=/)
  assert.match(uefi, /if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd/)
  assert.match(uefi, /unit=1,file=\/x\/vars\.fd/)
  assert.throws(() => qemuCommand({ mac: 'm', tap: 't', uefi: true, consoleLog: '/c' }))
})

test('qemu arm64: the `virt` machine under TCG with AAVMF (always UEFI), no x86 boot options, an RNG', () => {
  const { cmd, args } = qemuCommand({
    mac: '52:54:00:4c:01:03',
    tap: 'hc1t3',
    arch: 'arm64',
    uefi: false,
    consoleLog: '/x/c.log',
    ovmfVars: '/x/vars.fd',
  })
  assert.equal(cmd, 'timeout')
  assert.equal(args[2], 'qemu-system-aarch64')
  const line = args.join(' ')
  assert.match(line, /-machine virt,accel=tcg -cpu cortex-a72 -smp 2/)
  assert.match(line, /virtio-net-pci,netdev=n0,mac=52:54:00:4c:01:03,romfile=/)
  assert.match(line, /-device virtio-rng-pci/)
  assert.match(line, /if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/AAVMF\/AAVMF_CODE\.fd/)
  assert.match(line, /unit=1,file=\/x\/vars\.fd/)
  assert.match(line, /-no-reboot/)
  assert.doesNotMatch(line, /-boot|q35|OVMF/)
  assert.throws(() => qemuCommand({ mac: 'm', tap: 't', arch: 'arm64', uefi: false, consoleLog: '/c' }))
})
