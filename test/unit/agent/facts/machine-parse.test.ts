import assert from 'node:assert/strict'
import { test } from 'node:test'
import { archFromNode, boardName, cpuModelName, hardwareMacs } from '../../../../agent/facts/machine-parse.js'

test('archFromNode maps node and uname names', () => {
  assert.equal(archFromNode('x64'), 'amd64')
  assert.equal(archFromNode('x86_64'), 'amd64')
  assert.equal(archFromNode('arm64'), 'arm64')
  assert.equal(archFromNode('aarch64'), 'arm64')
  assert.equal(archFromNode('arm'), 'arm')
  assert.equal(archFromNode('armv7l'), 'arm')
  assert.equal(archFromNode('ia32'), '386')
  assert.equal(archFromNode('riscv64'), 'riscv64')
  assert.equal(archFromNode('s390x'), 'unknown')
  assert.equal(archFromNode(''), 'unknown')
})

test('boardName prefers the device-tree model and strips its NUL', () => {
  assert.equal(
    boardName({
      arch: 'arm64',
      deviceTreeModel: 'Raspberry Pi 4 Model B Rev 1.4\0',
      manufacturer: 'x',
      model: 'y',
    }),
    'Raspberry Pi 4 Model B Rev 1.4',
  )
})

test('boardName joins DMI vendor and model on x86', () => {
  assert.equal(boardName({ arch: 'amd64', manufacturer: 'LENOVO', model: '20L5CTO1WW' }), 'LENOVO 20L5CTO1WW')
  assert.equal(
    boardName({ arch: 'amd64', manufacturer: 'Dell Inc.', model: 'Dell Inc. Latitude' }),
    'Dell Inc. Latitude',
  )
  assert.equal(boardName({ arch: 'amd64', manufacturer: '', model: 'Docker Container' }), 'Docker Container')
})

test('boardName falls back to a generic name past firmware placeholders', () => {
  assert.equal(
    boardName({ arch: 'amd64', manufacturer: 'To Be Filled By O.E.M.', model: 'Default string' }),
    'generic x86',
  )
  assert.equal(boardName({ arch: '386' }), 'generic x86')
  assert.equal(boardName({ arch: 'arm64', deviceTreeModel: '\0' }), 'generic arm64')
  assert.equal(boardName({ arch: 'unknown' }), 'generic')
})

test('cpuModelName joins vendor and brand without trademark signs or repeats', () => {
  assert.equal(cpuModelName('Intel', 'Core™ i5-8250U'), 'Intel Core i5-8250U')
  assert.equal(cpuModelName('Intel', 'Core(TM) i5  CPU'), 'Intel Core i5 CPU')
  assert.equal(cpuModelName('ARM', 'Cortex-A72'), 'ARM Cortex-A72')
  assert.equal(cpuModelName('AMD', 'AMD Ryzen 5'), 'AMD Ryzen 5')
  assert.equal(cpuModelName('', 'Cortex-A76'), 'Cortex-A76')
  assert.equal(cpuModelName(undefined, undefined), '')
})

test('hardwareMacs keeps real NICs, lowercase, deduplicated', () => {
  const macs = hardwareMacs([
    { iface: 'lo', mac: '00:00:00:00:00:00', internal: true },
    { iface: 'eth0', mac: 'DC:A6:32:01:02:03' },
    { iface: 'wlan0', mac: 'dc:a6:32:01:02:04' },
    { iface: 'eth0.10', mac: 'dc:a6:32:01:02:03' },
    { iface: 'docker0', mac: '02:42:ac:11:00:01' },
    { iface: 'veth1234', mac: '5e:00:00:00:00:01' },
    { iface: 'cni0', mac: '5e:00:00:00:00:02' },
    { iface: 'flannel.1', mac: '5e:00:00:00:00:03' },
    { iface: 'vmx0', mac: '5e:00:00:00:00:04', virtual: true },
    { iface: 'eth1', mac: '00:00:00:00:00:00' },
    { iface: 'eth2', mac: '' },
    { iface: 'eth3', mac: 'not-a-mac' },
    { iface: 'eth4', mac: '00-1B-21-3A-4F-5C' },
  ])
  assert.deepEqual(macs, ['dc:a6:32:01:02:03', 'dc:a6:32:01:02:04', '00:1b:21:3a:4f:5c'])
})
