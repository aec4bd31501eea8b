import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import { checkArtifacts, readImage, sha256, verifyImage } from '../../../../agent/netboot/manifest.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-netboot-manifest-'))
after(() => rm(dir, { recursive: true, force: true }))
const files = {
  vmlinuz: Buffer.from('kernel'),
  'initrd.img': Buffer.from('initrd'),
  'agent.tar.zst': Buffer.from('agent'),
}
const manifest = {
  v: 1,
  version: 'test',
  arch: 'amd64',
  files: Object.fromEntries(
    Object.entries(files).map(([n, b]) => [n, { sha256: sha256(b), bytes: b.length }]),
  ),
}
for (const [n, b] of Object.entries(files)) await writeFile(join(dir, n), b)
const manifestText = JSON.stringify(manifest)
await writeFile(join(dir, 'manifest.json'), manifestText)

test('the image id is the sha256 of manifest.json', async () => {
  const image = await readImage(dir)
  assert.equal(image.id, sha256(manifestText))
  await verifyImage(image)
})

test('checkArtifacts names each missing, resized or altered artifact', () => {
  const m = { ...manifest, arch: 'amd64' as const, v: 1 as const }
  const got = checkArtifacts(m, {
    vmlinuz: { bytes: 6, sha256: sha256(files.vmlinuz) },
    'initrd.img': { bytes: 7, sha256: 'x' },
    'agent.tar.zst': null,
  })
  assert.deepEqual(
    got.map((c) => [c.name, c.ok, c.problem?.split(',')[0]]),
    [
      ['vmlinuz', true, undefined],
      ['initrd.img', false, '7 bytes'],
      ['agent.tar.zst', false, 'missing'],
    ],
  )
})

test('a corrupted artifact makes the image refused, naming the file', async () => {
  const bad = await mkdtemp(join(tmpdir(), 'hc-netboot-bad-'))
  after(() => rm(bad, { recursive: true, force: true }))
  for (const [n, b] of Object.entries(files)) await writeFile(join(bad, n), b)
  await writeFile(join(bad, 'agent.tar.zst'), 'agenT')
  await writeFile(join(bad, 'manifest.json'), manifestText)
  await assert.rejects(verifyImage(await readImage(bad)), (err: HomecloudError) => {
    assert.equal(err.code, 'NETBOOT_IMAGE_INVALID')
    assert.match(err.message, /agent\.tar\.zst \(sha256 /)
    return true
  })
})

test('a missing or malformed manifest is a clear error', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'hc-netboot-empty-'))
  after(() => rm(empty, { recursive: true, force: true }))
  await assert.rejects(readImage(empty), /no manifest\.json/)
  await writeFile(
    join(empty, 'manifest.json'),
    '{"v":1,"version":"x","arch":"amd64","files":{"../x":{"sha256":"00","bytes":1}}}',
  )
  await assert.rejects(readImage(empty), (err: HomecloudError) => err.code === 'NETBOOT_IMAGE_INVALID')
})
