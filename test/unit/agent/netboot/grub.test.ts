import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { packageRoot } from '../../../../agent/core/package-root.js'
import { parseKernelCmdline } from '../../../../agent/netboot/cmdline.js'
import {
  GRUB_SERVER_PLACEHOLDER,
  grubHttpPath,
  grubImageFor,
  renderGrubBootScript,
  renderGrubRefusal,
} from '../../../../agent/netboot/grub.js'

const params = {
  url: 'http://10.77.1.2:7080/netboot',
  image: 'ab'.repeat(32),
  cluster: '0123456789abcdef',
  peers: [`${'cd'.repeat(32)}@10.77.1.2:49737`],
  mac: '52:54:00:4c:01:01',
}

test('the placeholder the node writes over is the one grub-early.cfg embeds', async () => {
  const cfg = await readFile(join(packageRoot(), 'images', 'netboot', 'grub-early.cfg'), 'utf8')
  assert.equal(cfg.split(GRUB_SERVER_PLACEHOLDER).length, 2, 'exactly once')
  assert.match(cfg, new RegExp(`^set homecloud_server=${GRUB_SERVER_PLACEHOLDER}$`, 'm'))
  // GRUB runs the embedded config with a parser that takes `#` for a command (seen in qemu:
  // "Unknown command `#'", and the boot stopped): no comment lines in it.
  assert.ok(!cfg.split('\n').some((l) => l.trimStart().startsWith('#')))
})

test("GRUB gets this node's HOST:PORT in place of the placeholder; nothing else moves", () => {
  const before = Buffer.from('PE\0\0...set homecloud_server=')
  const after = Buffer.from('\necho ok\0\0tail')
  const template = Buffer.concat([before, Buffer.from(GRUB_SERVER_PLACEHOLDER), after])
  const out = grubImageFor(template, '10.77.1.2:7080')
  assert.equal(out.length, template.length)
  assert.deepEqual(out.subarray(0, before.length), before)
  assert.deepEqual(out.subarray(out.length - after.length), after)
  const written = out.subarray(before.length, before.length + GRUB_SERVER_PLACEHOLDER.length).toString()
  assert.equal(written.trimEnd(), '10.77.1.2:7080')
  assert.match(written, /^10\.77\.1\.2:7080 +$/)
  // The template is not changed in place (every node patches its own copy).
  assert.ok(template.includes(Buffer.from(GRUB_SERVER_PLACEHOLDER)))
})

test('a template without the placeholder (or with two), or an address that does not fit, is refused', () => {
  const one = Buffer.from(`x${GRUB_SERVER_PLACEHOLDER}y`)
  assert.throws(() => grubImageFor(Buffer.from('no placeholder here'), '10.0.0.1:7080'), /exactly once/)
  assert.throws(() => grubImageFor(Buffer.concat([one, one]), '10.0.0.1:7080'), /exactly once/)
  assert.throws(() => grubImageFor(one, `${'1'.repeat(80)}:7080`), /longer/)
  assert.throws(() => grubImageFor(one, '10.0.0.1:7080"; reboot'), /HOST:PORT/)
})

test('the GRUB script boots the image with the arm64 consoles and the same homecloud.* keys as iPXE', () => {
  assert.equal(grubHttpPath(params.url), '(http,10.77.1.2:7080)/netboot')
  const [echo, linux, initrd, boot, end] = renderGrubBootScript({
    params,
    servedBy: 'pi5-1',
    consoles: 'arm64',
  }).split('\n')
  assert.equal(echo, `echo "homecloud: image ${'ab'.repeat(6)} for 52:54:00:4c:01:01 from pi5-1"`)
  assert.ok(
    linux?.startsWith(
      `linux (http,10.77.1.2:7080)/netboot/image/${params.image}/vmlinuz console=tty0 console=ttyAMA0,115200 panic=-1 quiet `,
    ),
  )
  assert.equal(initrd, `initrd (http,10.77.1.2:7080)/netboot/image/${params.image}/initrd.img`)
  assert.equal(boot, 'boot')
  assert.equal(end, '')
  const parsed = parseKernelCmdline(linux!.split(' ').slice(2).join(' '))
  assert.ok(parsed.success)
  assert.deepEqual(parsed.data, params)
})

test('a refusal names the reason without characters GRUB would interpret', () => {
  const r = renderGrubRefusal('52:54:00:00:00:bb is not adopted; $(reboot) "x" {y}')
  assert.equal(r.split('\n')[0], 'echo "homecloud: 52:54:00:00:00:bb is not adopted (reboot) x y"')
  assert.match(r, /\nsleep 10\nreboot\n$/)
})
