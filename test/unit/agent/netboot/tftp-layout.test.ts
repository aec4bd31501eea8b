import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PI_DIR, tftpLayout } from '../../../../agent/netboot/tftp-layout.js'

test('x86: the iPXE binaries are copied (dnsmasq drops root and must read them)', () => {
  const layout = tftpLayout({ ipxeDir: '/usr/lib/ipxe' })
  assert.deepEqual(layout, [
    { path: 'undionly.0', kind: 'copy', target: '/usr/lib/ipxe/undionly.kpxe' },
    { path: 'ipxe.efi', kind: 'copy', target: '/usr/lib/ipxe/ipxe.efi' },
    { path: 'snponly.efi', kind: 'copy', target: '/usr/lib/ipxe/snponly.efi' },
  ])
})

test("arm64: this node's GRUB is written as a file of its own", () => {
  const grub = Buffer.from('grub bytes')
  const e = tftpLayout({ ipxeDir: '/x', grub }).find((x) => x.path === 'grubnetaa64.efi')
  assert.deepEqual(e, { path: 'grubnetaa64.efi', kind: 'file', content: grub })
})

test('Raspberry Pi: rpi/ holds the image files and the generated three; serial folders and the root point at them', () => {
  const layout = tftpLayout({
    ipxeDir: '/x',
    pi: {
      imageDir: '/img',
      serials: ['dc1a2b3c', '0a1b2c3d', 'dc1a2b3c'],
      configTxt: 'c',
      cmdlines: { pi4: 'l', pi5: 'l5' },
    },
  })
  const by = new Map(layout.map((e) => [e.path, e]))
  assert.deepEqual(by.get(`${PI_DIR}/start4.elf`), {
    path: 'rpi/start4.elf',
    kind: 'symlink',
    target: '/img/start4.elf',
  })
  assert.deepEqual(by.get(`${PI_DIR}/vmlinuz`), {
    path: 'rpi/vmlinuz',
    kind: 'symlink',
    target: '/img/vmlinuz',
  })
  assert.deepEqual(by.get('rpi/config.txt'), {
    path: 'rpi/config.txt',
    kind: 'file',
    content: Buffer.from('c'),
  })
  assert.deepEqual(by.get('rpi/cmdline.txt'), {
    path: 'rpi/cmdline.txt',
    kind: 'file',
    content: Buffer.from('l'),
  })
  // The Pi 5's own command line (config.txt's [pi5] names it), beside the Pi 4's.
  assert.deepEqual(by.get('rpi/cmdline-pi5.txt'), {
    path: 'rpi/cmdline-pi5.txt',
    kind: 'file',
    content: Buffer.from('l5'),
  })
  // The bootloader's fallback when the serial folder has no start4.elf: the root.
  assert.deepEqual(by.get('start4.elf'), { path: 'start4.elf', kind: 'symlink', target: 'rpi/start4.elf' })
  assert.deepEqual(by.get('cmdline.txt'), { path: 'cmdline.txt', kind: 'symlink', target: 'rpi/cmdline.txt' })
  assert.deepEqual(by.get('cmdline-pi5.txt'), {
    path: 'cmdline-pi5.txt',
    kind: 'symlink',
    target: 'rpi/cmdline-pi5.txt',
  })
  assert.deepEqual(
    layout.filter((e) => /^[0-9a-f]{8}$/.test(e.path)),
    [
      { path: '0a1b2c3d', kind: 'symlink', target: 'rpi' },
      { path: 'dc1a2b3c', kind: 'symlink', target: 'rpi' },
    ],
  )
  for (const f of [
    'bcm2711-rpi-4-b.dtb',
    'bcm2711-rpi-400.dtb',
    'bcm2711-rpi-cm4-io.dtb',
    'bcm2712-rpi-5-b.dtb',
    'bcm2712-d-rpi-5-b.dtb',
    'bcm2712d0-rpi-5-b.dtb',
    'fixup4.dat',
    'initrd.img',
  ]) {
    assert.ok(by.has(`rpi/${f}`), f)
    assert.ok(by.has(f), `${f} in the root`)
  }
})

test('a serial that is not 8 hex digits never becomes a path', () => {
  const pi = { imageDir: '/img', configTxt: 'c', cmdlines: { pi4: 'l', pi5: 'l5' } }
  for (const s of ['../etc', 'DC1A2B3C', ''])
    assert.throws(() => tftpLayout({ ipxeDir: '/x', pi: { ...pi, serials: [s] } }), /serial/)
})
