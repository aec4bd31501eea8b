import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pkiPaths } from '../../agent/pki/store.js'
import { Bitfield } from '../../agent/release/bitfield.js'
import { readReleaseDir } from '../../agent/release/dir.js'
import { makeRelease } from '../../agent/release/make.js'
import { pieceList } from '../../agent/release/manifest.js'
import { type ReleaseKey, SIGNATURE_FILE, signManifest } from '../../agent/release/signature.js'
import { HAVE_FILE } from '../../agent/release/store.js'
import type { ReleasesView } from '../../agent/release/view.js'
import { writeAdminConfig } from '../../agent/trust/admin-config.js'
import type { LabFile, LabNode } from '../../lab/lab-file.js'

// Helpers for the release tests and benchmark: make signed releases of a chosen size,
// read a node's release view and counters, talk to 7443 with a member's own certificate.

/** A signed release: the given image files (or a small fake kernel + initrd) plus `padBytes` of random data. */
export async function makeSignedRelease(
  dir: string,
  key: ReleaseKey,
  o: { version: string; from?: string; padBytes?: number; arch?: 'amd64' | 'arm64' },
): Promise<{ dir: string; id: string; bytes: number }> {
  const src = `${dir}-src`
  await mkdir(src, { recursive: true })
  const extra: Record<string, string> = {}
  if (!o.from) {
    await writeFile(join(src, 'vmlinuz'), randomBytes(1024 * 1024))
    await writeFile(join(src, 'initrd.img'), randomBytes(512 * 1024))
  }
  if (o.padBytes) {
    await writeFile(join(src, 'pad.bin'), randomBytes(o.padBytes))
    extra['pad.bin'] = join(src, 'pad.bin')
  }
  const r = await makeRelease({ from: o.from ?? src, out: dir, version: o.version, arch: o.arch, extra })
  await writeFile(join(dir, SIGNATURE_FILE), `${JSON.stringify(signManifest(r.manifestBytes, key))}\n`)
  const bytes = Object.values(r.manifest.files).reduce((n, f) => n + f.bytes, 0)
  return { dir, id: r.id, bytes }
}

export async function releasesOf(node: { address: string; name?: string }): Promise<ReleasesView> {
  const res = await fetch(`http://${node.address}:7080/api/v1/releases`, {
    signal: AbortSignal.timeout(5000),
  }).catch((err: Error) => {
    // Say which node: a bare "fetch failed" does not.
    throw new Error(
      `${node.name ?? node.address} does not answer on :7080: ${(err.cause as Error)?.message ?? err.message}`,
    )
  })
  return (await res.json()) as ReleasesView
}

/** Sum of a counter over its labels, from a node's /metrics. */
export async function counter(node: { address: string }, name: string): Promise<number> {
  const res = await fetch(`http://${node.address}:7080/metrics`, { signal: AbortSignal.timeout(5000) })
  let sum = 0
  for (const line of (await res.text()).split('\n'))
    if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

/** An "admin config" that carries a member's own agent certificate: what a non-admin member could send. */
export async function memberClientConfig(lab: LabFile, node: LabNode, target: LabNode): Promise<string> {
  const p = pkiPaths(node.stateDir)
  const path = join(lab.dir, `member-${node.name}.json`)
  await writeAdminConfig(path, {
    v: 1,
    clusterId: lab.clusterId,
    urls: [`https://${target.address}:7443`],
    caCert: p.caCert,
    cert: p.nodeCert,
    key: p.nodeKey,
  })
  return path
}

/**
 * A store entry still downloading: every piece its have.json says it holds matches its
 * manifest hash on disk (nothing half-written counts as held). Returns how many it holds.
 */
export async function checkHeldPieces(dir: string): Promise<number> {
  const d = await readReleaseDir(dir)
  const pieces = pieceList(d.release.manifest)
  const have = Bitfield.fromBase64(
    pieces.length,
    (JSON.parse(await readFile(join(dir, HAVE_FILE), 'utf8')) as { have: string }).have,
  )
  for (const p of pieces.filter((x) => have.has(x.index))) {
    const buf = Buffer.alloc(p.bytes)
    const fh = await open(join(dir, p.file), 'r')
    await fh.read(buf, 0, p.bytes, p.offset).finally(() => fh.close())
    if (createHash('sha256').update(buf).digest('hex') !== p.sha256)
      throw new Error(`${dir}: piece ${p.index} is held but does not match its hash`)
  }
  return have.count()
}

/** Fills the filesystem of `path` (a file written until ENOSPC); returns the bytes written. */
export async function fillDisk(path: string): Promise<number> {
  const fh = await open(path, 'w')
  const chunk = Buffer.alloc(1024 * 1024, 0x42)
  let bytes = 0
  try {
    for (;;) {
      const { bytesWritten } = await fh.write(chunk, 0, chunk.length, bytes)
      bytes += bytesWritten
      if (bytesWritten < chunk.length) break
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await fh.close()
  }
  return bytes
}
