import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { writeFileAtomic } from '../core/files.js'
import { checkSnapshotFile } from '../etcd/snapshot.js'

// The etcd snapshots a node holds for `homecloud recover`: `<state>/data/snapshots/`,
// one `<name>.db` per snapshot and a `<name>.json` manifest beside it (its sha256,
// revision, when and where it was taken). The manifest is written last, so a file
// without one is an unfinished transfer and is never offered.

export const snapshotsKeep = 3
export const snapshotBytesMax = 256 * 1024 * 1024
const manifestBytesMax = 4096

export function snapshotsDir(stateDir: string): string {
  return join(stateDir, 'data', 'snapshots')
}

/** Sortable by time, then revision; safe in a file name and a wire message. */
export const SnapshotName = z.string().regex(/^snap-\d{13}-r\d{1,16}$/)

export function snapshotName(takenAtMs: number, revision: number): string {
  return `snap-${String(takenAtMs).padStart(13, '0')}-r${revision}`
}

export const SnapshotManifest = z.object({
  v: z.literal(1),
  name: SnapshotName,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sizeBytes: z.number().int().positive().max(snapshotBytesMax),
  revision: z.number().int().nonnegative(),
  takenAtMs: z.number().int().nonnegative(),
  /** The node whose coordinator took it. */
  from: z.string().min(1).max(64),
})
export type SnapshotManifest = z.infer<typeof SnapshotManifest>

export interface HeldSnapshot {
  manifest: SnapshotManifest
  path: string
}

export function snapshotPaths(stateDir: string, name: string) {
  const dir = snapshotsDir(stateDir)
  return { file: join(dir, `${name}.db`), manifest: join(dir, `${name}.json`) }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Snapshots with a readable manifest, newest first (not yet checked against their files). */
export async function listSnapshots(stateDir: string): Promise<HeldSnapshot[]> {
  const dir = snapshotsDir(stateDir)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const out: HeldSnapshot[] = []
  for (const n of names) {
    if (!n.endsWith('.json')) continue
    try {
      const text = await readFile(join(dir, n), 'utf8')
      if (text.length > manifestBytesMax) continue
      const m = SnapshotManifest.safeParse(JSON.parse(text))
      if (m.success && `${m.data.name}.json` === n)
        out.push({ manifest: m.data, path: snapshotPaths(stateDir, m.data.name).file })
    } catch {
      // An unreadable manifest is not a snapshot we can offer.
    }
  }
  return out.sort(
    (a, b) => b.manifest.takenAtMs - a.manifest.takenAtMs || b.manifest.revision - a.manifest.revision,
  )
}

/** null when the file is the one the manifest describes and etcd's own hash holds; else why not. */
export async function verifySnapshot(s: HeldSnapshot): Promise<string | null> {
  let sha: string
  try {
    sha = await sha256File(s.path)
  } catch {
    return `${s.path} is missing`
  }
  if (sha !== s.manifest.sha256)
    return `${s.path} is corrupt: its sha256 ${sha.slice(0, 12)}… is not the recorded ${s.manifest.sha256.slice(0, 12)}…`
  const check = await checkSnapshotFile(s.path)
  return check.ok ? null : check.message
}

export async function writeManifest(stateDir: string, m: SnapshotManifest): Promise<void> {
  await writeFileAtomic(snapshotPaths(stateDir, m.name).manifest, `${JSON.stringify(m, null, 2)}\n`, 0o600)
}

/** Keeps the newest `keep`; also clears leftover temp files of transfers. */
export async function pruneSnapshots(stateDir: string, keep = snapshotsKeep): Promise<void> {
  const held = await listSnapshots(stateDir)
  for (const old of held.slice(keep)) {
    const p = snapshotPaths(stateDir, old.manifest.name)
    await rm(p.manifest, { force: true })
    await rm(p.file, { force: true })
  }
}
