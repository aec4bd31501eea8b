import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseKernelCmdline } from '../../../../agent/netboot/cmdline.js'
import {
  isPiCmdlinePath,
  PI_CMDLINE_FILES,
  PI_IMAGE_FILES,
  PI5_CMDLINE_FILE,
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

/** The settings of one config.txt section (comments left out), as the firmware reads them. */
function section(text: string, name: string): string[] {
  const lines = text.split('\n')
  const from = lines.indexOf(`[${name}]`)
  assert.ok(from >= 0, `[${name}] is there`)
  const rest = lines.slice(from + 1)
  const to = rest.findIndex((l) => l.startsWith('['))
  return rest.slice(0, to < 0 ? undefined : to).filter((l) => l !== '' && !l.startsWith('#'))
}

test('config.txt: a Pi 4 boots the 64-bit upstream kernel and our initramfs, with the serial console on', () => {
  assert.deepEqual(section(renderPiConfigTxt(), 'pi4'), [
    'arm_64bit=1',
    'upstream_kernel=1',
    'enable_uart=1',
    'kernel=vmlinuz',
    'initramfs initrd.img followkernel',
  ])
  assert.ok(renderPiConfigTxt().endsWith('[all]\n'))
  assert.deepEqual(section(renderPiConfigTxt(), 'all'), [])
})

test('config.txt: a Pi 5 boots the same kernel and initramfs with the upstream device tree and its own command line', () => {
  assert.deepEqual(section(renderPiConfigTxt(), 'pi5'), [
    'upstream_kernel=1',
    'kernel=vmlinuz',
    'initramfs initrd.img followkernel',
    `cmdline=${PI5_CMDLINE_FILE}`,
  ])
  // Every file config.txt names is one the node serves: the image's or a generated one.
  const named = renderPiConfigTxt()
    .split('\n')
    .flatMap((l) => /^(?:kernel|cmdline)=(.+)$/.exec(l)?.[1] ?? /^initramfs (\S+)/.exec(l)?.[1] ?? [])
  for (const f of named)
    assert.ok(
      (PI_IMAGE_FILES as readonly string[]).includes(f) || Object.values(PI_CMDLINE_FILES).includes(f),
      `${f} is served`,
    )
  // Both device trees of the Pi 5 (C1 and D0 steppings, Raspberry Pi's and Linux's names).
  for (const dtb of ['bcm2712-rpi-5-b.dtb', 'bcm2712-d-rpi-5-b.dtb', 'bcm2712d0-rpi-5-b.dtb'])
    assert.ok((PI_IMAGE_FILES as readonly string[]).includes(dtb), dtb)
  // The writer is named (a disk slot carries the same file).
  assert.match(
    renderPiConfigTxt('agent/slots/rpi-files.ts'),
    /^# Written by the homecloud agent \(agent\/slots\/rpi-files\.ts\)/,
  )
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

test('cmdline-pi5.txt: the same keys, with the Pi 5 debug UART (ttyAMA10) as the console /init writes to', () => {
  const text = renderPiCmdline(params, 'pi5')
  assert.equal(text.split('\n').length, 2)
  assert.ok(text.startsWith('console=tty0 console=ttyAMA10,115200 panic=-1 quiet homecloud.url='))
  assert.equal(text.replace('ttyAMA10', 'ttyS1'), renderPiCmdline(params, 'pi4'))
  const parsed = parseKernelCmdline(text)
  assert.ok(parsed.success)
  assert.deepEqual(parsed.data, { ...params, mac: undefined })
  assert.throws(() => renderPiCmdline({ ...params, peers: ['not a peer'] }, 'pi5'))
})

test('serials are 8 lower-case hex digits; the cmdline.txt path is recognised in a folder or the root', () => {
  assert.ok(PiSerial.safeParse('dc1a2b3c').success)
  for (const bad of ['DC1A2B3C', '../etc', 'dc1a2b3', 'dc1a2b3c0'])
    assert.ok(!PiSerial.safeParse(bad).success, bad)
  assert.ok(isPiCmdlinePath('cmdline.txt'))
  assert.ok(isPiCmdlinePath('/var/lib/homecloud/netboot/tftp/dc1a2b3c/cmdline.txt'))
  assert.ok(isPiCmdlinePath('cmdline-pi5.txt'))
  assert.ok(isPiCmdlinePath('/var/lib/homecloud/netboot/tftp/dc1a2b3c/cmdline-pi5.txt'))
  assert.ok(!isPiCmdlinePath('/x/notcmdline.txt'))
  assert.ok(!isPiCmdlinePath('/x/notcmdline-pi5.txt'))
  assert.ok(!isPiCmdlinePath('/x/cmdline-pi5.txt.bak'))
})
