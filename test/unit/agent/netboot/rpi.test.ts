import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseKernelCmdline } from '../../../../agent/netboot/cmdline.js'
import {
  isPiCmdlinePath,
  PiSerial,
  renderPiCmdline,
  renderPiConfigTxt,
} from '../../../../agent/netboot/rpi.js'

const params = {
  url: 'http://10.77.1.2:7080/netboot',
  image: 'ef'.repeat(32),
  cluster: '0123456789abcdef',
  peers: [`${'cd'.repeat(32)}@10.77.1.2:49737`, `${'ce'.repeat(32)}@10.77.1.3:49737`],
}

test('config.txt: a Pi 4 boots the 64-bit upstream kernel and our initramfs, with the serial console on', () => {
  const lines = renderPiConfigTxt().split('\n')
  const pi4 = lines
    .slice(lines.indexOf('[pi4]') + 1, lines.indexOf('[all]'))
    .filter((l) => !l.startsWith('#'))
  assert.deepEqual(pi4, [
    'arm_64bit=1',
    'upstream_kernel=1',
    'enable_uart=1',
    'kernel=vmlinuz',
    'initramfs initrd.img followkernel',
  ])
  // No Pi 5 section: Debian 12's kernel has no bcm2712 device tree (said in the comment).
  assert.ok(!lines.includes('[pi5]'))
  assert.ok(renderPiConfigTxt().endsWith('[all]\n'))
})

test('cmdline.txt: one line, the Pi 4 serial console last, the homecloud keys, no MAC (/init reads its NIC)', () => {
  const text = renderPiCmdline(params)
  assert.equal(text.split('\n').length, 2)
  assert.ok(text.endsWith('\n'))
  assert.ok(text.startsWith('console=tty0 console=ttyS1,115200 panic=-1 quiet homecloud.url='))
  assert.doesNotMatch(text, /homecloud\.mac=/)
  const parsed = parseKernelCmdline(text)
  assert.ok(parsed.success)
  assert.deepEqual(parsed.data, { ...params, mac: undefined })
  assert.throws(() => renderPiCmdline({ ...params, url: 'http://x/netboot init=/bin/sh' }))
})

test('serials are 8 lower-case hex digits; the cmdline.txt path is recognised in a folder or the root', () => {
  assert.ok(PiSerial.safeParse('dc1a2b3c').success)
  for (const bad of ['DC1A2B3C', '../etc', 'dc1a2b3', 'dc1a2b3c0'])
    assert.ok(!PiSerial.safeParse(bad).success, bad)
  assert.ok(isPiCmdlinePath('cmdline.txt'))
  assert.ok(isPiCmdlinePath('/var/lib/homecloud/netboot/tftp/dc1a2b3c/cmdline.txt'))
  assert.ok(!isPiCmdlinePath('/x/notcmdline.txt'))
})
