import assert from 'node:assert/strict'
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { TftpEntry } from '../../../../agent/netboot/tftp-layout.js'
import { TftpRoot } from '../../../../agent/netboot/tftp-root.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-tftp-root-'))
after(() => rm(dir, { recursive: true, force: true }))
const src = join(dir, 'ipxe.bin')
await writeFile(src, 'ipxe')
const root = new TftpRoot(join(dir, 'tftp'))

const layout = (cmdline: string, imageDir: string): TftpEntry[] => [
  { path: 'ipxe.efi', kind: 'copy', target: src },
  { path: 'rpi/cmdline.txt', kind: 'file', content: Buffer.from(cmdline) },
  { path: 'rpi/start4.elf', kind: 'symlink', target: `${imageDir}/start4.elf` },
  { path: 'dc1a2b3c', kind: 'symlink', target: 'rpi' },
]

test('the first apply starts from an empty root and writes every entry', async () => {
  await root.apply([]) // creates the root, removing whatever was there
  await writeFile(join(dir, 'tftp', 'leftover'), 'from a previous run')
  const fresh = new TftpRoot(join(dir, 'tftp'))
  const changed = await fresh.apply(layout('a', '/img1'))
  assert.deepEqual(changed.sort(), ['dc1a2b3c', 'ipxe.efi', 'rpi/cmdline.txt', 'rpi/start4.elf'])
  await assert.rejects(lstat(join(dir, 'tftp', 'leftover')))
  assert.equal(await readFile(join(dir, 'tftp', 'ipxe.efi'), 'utf8'), 'ipxe')
  assert.equal(await readFile(join(dir, 'tftp', 'rpi', 'cmdline.txt'), 'utf8'), 'a')
  assert.equal(await readlink(join(dir, 'tftp', 'rpi', 'start4.elf')), '/img1/start4.elf')
  assert.equal(await readFile(join(dir, 'tftp', 'dc1a2b3c', 'cmdline.txt'), 'utf8'), 'a')
  // The same layout again changes nothing on disk.
  assert.deepEqual(await fresh.apply(layout('a', '/img1')), [])
  // New peers in cmdline.txt and a new image: only those entries are replaced.
  assert.deepEqual((await fresh.apply(layout('b', '/img2'))).sort(), ['rpi/cmdline.txt', 'rpi/start4.elf'])
  assert.equal(await readFile(join(dir, 'tftp', 'rpi', 'cmdline.txt'), 'utf8'), 'b')
  assert.equal(await readlink(join(dir, 'tftp', 'rpi', 'start4.elf')), '/img2/start4.elf')
  // The arm64 image went away: its entries go too.
  assert.deepEqual(await fresh.apply(layout('b', '/img2').slice(0, 1)), [
    'rpi/cmdline.txt',
    'rpi/start4.elf',
    'dc1a2b3c',
  ])
  await assert.rejects(lstat(join(dir, 'tftp', 'dc1a2b3c')))
})

test('an iPXE binary that cannot be copied is a NETBOOT_DNSMASQ error naming it', async () => {
  const r = new TftpRoot(join(dir, 'tftp2'))
  await assert.rejects(
    r.apply([{ path: 'ipxe.efi', kind: 'copy', target: '/nonexistent/ipxe.efi' }]),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NETBOOT_DNSMASQ')
      assert.match(err.message, /\/nonexistent\/ipxe\.efi/)
      return true
    },
  )
})
