import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { BootFiles } from '../../../../agent/netboot/boot-files.js'
import { GRUB_SERVER_PLACEHOLDER } from '../../../../agent/netboot/grub.js'
import { type NetbootImage, readImage, sha256 } from '../../../../agent/netboot/manifest.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-boot-files-'))
after(() => rm(dir, { recursive: true, force: true }))
const grub = Buffer.from(`MZ...set homecloud_server=${GRUB_SERVER_PLACEHOLDER}\n...`)
const files: Record<string, Buffer> = {
  vmlinuz: Buffer.from('k'),
  'initrd.img': Buffer.from('i'),
  'grubnetaa64.efi': grub,
}
for (const [n, b] of Object.entries(files)) await writeFile(join(dir, n), b)
const manifest = {
  v: 1,
  version: 'a',
  arch: 'arm64',
  files: Object.fromEntries(
    Object.entries(files).map(([n, b]) => [n, { sha256: sha256(b), bytes: b.length }]),
  ),
}
await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
const arm64: NetbootImage = await readImage(dir)
let peers = [`${'ab'.repeat(32)}@10.77.1.2:49737`]
const make = (pi: boolean) =>
  new BootFiles({
    config: { ipxeDir: '/usr/lib/ipxe', peersMax: 8, raspberryPi: { enabled: pi, serials: ['dc1a2b3c'] } },
    baseUrl: 'http://10.77.1.3:7080/netboot',
    clusterId: '0123456789abcdef',
    peers: () => peers,
  })

test('without an arm64 image: iPXE only', async () => {
  const e = await make(true).entries(null)
  assert.deepEqual(
    e.map((x) => x.path),
    ['undionly.0', 'ipxe.efi', 'snponly.efi'],
  )
})

test("with one: this node's GRUB (its address in place of the placeholder) and, with Pis on, their files", async () => {
  const files = make(true)
  const e = await files.entries(arm64)
  const g = e.find((x) => x.path === 'grubnetaa64.efi')
  assert.ok(g && g.kind === 'file')
  assert.ok(g.content.includes(Buffer.from('set homecloud_server=10.77.1.3:7080 ')))
  assert.equal(g.content.length, grub.length)
  const cmdline = e.find((x) => x.path === 'rpi/cmdline.txt')
  assert.ok(cmdline && cmdline.kind === 'file')
  assert.match(
    cmdline.content.toString(),
    new RegExp(
      `homecloud.image=${arm64.id} homecloud.cluster=0123456789abcdef homecloud.peers=${peers[0]}\\n$`,
    ),
  )
  // The live peers: the next call renders them.
  peers = [`${'cd'.repeat(32)}@10.77.1.4:49737`]
  const again = (await files.entries(arm64)).find((x) => x.path === 'rpi/cmdline.txt')
  assert.ok(again?.kind === 'file' && again.content.toString().includes(peers[0]!))
  assert.ok(!(await make(false).entries(arm64)).some((x) => x.path.startsWith('rpi')))
})

test("the Pis' cmdline.txt carries the cluster's state-disk policy when it is not the default", async () => {
  let policy: 'labelled-only' | 'adopt-empty' | undefined = 'labelled-only'
  const files = new BootFiles({
    config: { ipxeDir: '/usr/lib/ipxe', peersMax: 8, raspberryPi: { enabled: true, serials: [] } },
    baseUrl: 'http://10.77.1.3:7080/netboot',
    clusterId: '0123456789abcdef',
    peers: () => peers,
    stateDiskPolicy: () => policy,
  })
  const line = async () => {
    const f = (await files.entries(arm64)).find((x) => x.path === 'rpi/cmdline.txt')
    return f?.kind === 'file' ? f.content.toString() : ''
  }
  assert.doesNotMatch(await line(), /statedisk/)
  policy = 'adopt-empty'
  assert.match(await line(), / homecloud\.statedisk=adopt-empty\n$/)
})
