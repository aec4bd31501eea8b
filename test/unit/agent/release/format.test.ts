import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { HomecloudError } from '../../../../agent/core/errors.js'
import { readImage, sha256 } from '../../../../agent/netboot/manifest.js'
import { checkReleaseFiles, readReleaseDir } from '../../../../agent/release/dir.js'
import { hashFilePieces, makeRelease } from '../../../../agent/release/make.js'
import { parseRelease, pieceList } from '../../../../agent/release/manifest.js'

const tmp = await mkdtemp(join(tmpdir(), 'hc-release-format-'))
after(() => rm(tmp, { recursive: true, force: true }))
const pieceBytes = 64 * 1024
const src = join(tmp, 'image')
const files = {
  vmlinuz: randomBytes(pieceBytes * 2 + 17),
  'initrd.img': randomBytes(pieceBytes),
  'agent.tar.zst': randomBytes(1000),
}
await rm(src, { recursive: true, force: true })
await import('node:fs/promises').then((fs) => fs.mkdir(src, { recursive: true }))
for (const [n, b] of Object.entries(files)) await writeFile(join(src, n), b)
const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    return (err as HomecloudError).code
  }
  return 'no error'
}

describe('release format', () => {
  it('hashes each file whole and in pieces, the last piece shorter', async () => {
    const h = await hashFilePieces(join(src, 'vmlinuz'), pieceBytes)
    assert.equal(h.sha256, sha256(files.vmlinuz))
    assert.equal(h.pieces.length, 3)
    assert.equal(h.pieces[2], sha256(files.vmlinuz.subarray(2 * pieceBytes)))
  })

  it('makes a release whose id is the sha256 of its manifest, readable by the netboot image reader', async () => {
    const out = join(tmp, 'rel')
    const r = await makeRelease({ from: src, out, version: 'v1', pieceBytes })
    const text = await readFile(join(out, 'manifest.json'))
    assert.equal(r.id, sha256(text))
    const image = await readImage(out)
    assert.equal(image.id, r.id)
    const pieces = pieceList(r.manifest)
    assert.equal(pieces.length, 1 + 1 + 3)
    assert.deepEqual(
      pieces.map((p) => p.file),
      ['agent.tar.zst', 'initrd.img', 'vmlinuz', 'vmlinuz', 'vmlinuz'],
    )
    assert.equal(pieces[4]!.offset, 2 * pieceBytes)
    assert.equal(pieces[4]!.bytes, 17)
    // One line per file: the netboot /init reads it with sed.
    assert.match(text.toString(), /\n {4}"vmlinuz": \{"sha256": "[0-9a-f]{64}", "bytes": \d+, "pieces": \[/)
    await checkReleaseFiles(await readReleaseDir(out))
  })

  it("keeps an arm64 image's firmware marks on their lines (GRUB, the Pi's files: /init skips them)", async () => {
    const armSrc = join(tmp, 'arm64-image')
    await import('node:fs/promises').then((fs) => fs.mkdir(armSrc, { recursive: true }))
    const armFiles = { ...files, 'grubnetaa64.efi': randomBytes(100) }
    const lines: string[] = []
    for (const [n, b] of Object.entries(armFiles)) {
      await writeFile(join(armSrc, n), b)
      const fw = n === 'grubnetaa64.efi' ? ', "firmware": true' : ''
      lines.push(`    "${n}": {"sha256": "${sha256(b)}", "bytes": ${b.length}${fw}}`)
    }
    await writeFile(
      join(armSrc, 'manifest.json'),
      `{\n  "v": 1,\n  "version": "a1",\n  "arch": "arm64",\n  "files": {\n${lines.join(',\n')}\n  }\n}\n`,
    )
    const out = join(tmp, 'rel-arm64')
    const r = await makeRelease({ from: armSrc, out, pieceBytes })
    assert.equal(r.manifest.arch, 'arm64')
    assert.equal(r.manifest.files['grubnetaa64.efi']?.firmware, true)
    assert.equal(r.manifest.files.vmlinuz?.firmware, undefined)
    const text = (await readFile(join(out, 'manifest.json'), 'utf8')).split('\n')
    assert.ok(text.some((l) => l.startsWith('    "grubnetaa64.efi": {') && l.includes('"firmware": true')))
    assert.ok(text.filter((l) => l.includes('"firmware": true')).length === 1)
  })

  it('refuses a file that differs from the manifest, naming it', async () => {
    const out = join(tmp, 'rel2')
    await makeRelease({ from: src, out, version: 'v1', pieceBytes })
    await writeFile(join(out, 'initrd.img'), randomBytes(pieceBytes))
    await assert.rejects(checkReleaseFiles(await readReleaseDir(out)), /initrd\.img: its content differs/)
  })

  it('refuses unknown architectures, missing pieces and oversized manifests with their own codes', () => {
    const base = {
      v: 1,
      version: 'x',
      arch: 'amd64',
      pieceBytes,
      files: {
        vmlinuz: { sha256: sha256('a'), bytes: 1, pieces: [sha256('a')] },
        'initrd.img': { sha256: sha256('b'), bytes: 1, pieces: [sha256('b')] },
      },
    }
    const bytes = (o: unknown) => Buffer.from(JSON.stringify(o))
    assert.equal(parseRelease(bytes(base)).manifest.arch, 'amd64')
    assert.equal(
      codeOf(() => parseRelease(bytes({ ...base, arch: 'riscv64' }))),
      'RELEASE_ARCH_UNKNOWN',
    )
    assert.equal(
      codeOf(() => parseRelease(bytes({ ...base, pieceBytes: undefined }))),
      'RELEASE_INVALID',
    )
    const noPieces = { ...base, files: { ...base.files, vmlinuz: { sha256: sha256('a'), bytes: 1 } } }
    assert.equal(
      codeOf(() => parseRelease(bytes(noPieces))),
      'RELEASE_INVALID',
    )
    assert.equal(
      codeOf(() => parseRelease(Buffer.from('{'))),
      'RELEASE_INVALID',
    )
    assert.equal(
      codeOf(() => parseRelease(Buffer.alloc(2 * 1024 * 1024, 32))),
      'RELEASE_INVALID',
    )
  })
})
