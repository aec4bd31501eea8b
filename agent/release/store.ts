import { createHash } from 'node:crypto'
import { type FileHandle, mkdir, open, readdir, readFile, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { Clock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import { HomecloudError } from '../core/errors.js'
import { writeFileAtomic } from '../core/files.js'
import type { Logger } from '../core/log.js'
import { MANIFEST_FILE, type NetbootImage } from '../netboot/manifest.js'
import { Bitfield } from './bitfield.js'
import { ABANDONED, abandonedLabels } from './holding.js'
import { type Piece, parseRelease, pieceList, type Release, releaseBytes } from './manifest.js'
import { SIGNATURE_FILE } from './signature.js'

// The release store: `<state>/releases/<id>/` holds manifest.json, release.sig, the
// files at their full size (sparse until their pieces arrive) and have.json, the pieces
// held — each verified against the manifest before its bit is set, and fdatasync'd
// before have.json says so. A crash or an unplugged peer loses at most the pieces in
// flight: a restarted node resumes from have.json. A complete release directory is a
// netboot image directory as it stands (agent/netboot reads it directly).
//
// The store never decides what to keep; its caller passes the ids to keep (current and
// previous per architecture, and releases still rolling out), and older ones are
// removed only when room is needed.

export const HAVE_FILE = 'have.json'
const Have = z.object({ v: z.literal(1), addedAtMs: z.number(), have: z.string().max(16_384) })

export interface StoredRelease {
  release: Release
  sigText: string
  have: Bitfield
  pieces: Piece[]
  addedAtMs: number
  dir: string
}

export interface ReleaseStoreComponents {
  clock: Clock
  log: Logger
  /** Counts releases removed for room (ABANDONED): none kept them, so the cluster gave them up. */
  counters?: Counters
  /** Free bytes where the store lives (statfs by default; tests pass their own). */
  freeBytes?: (dir: string) => Promise<number>
}

const diskFull = (message: string) =>
  new HomecloudError(
    'RELEASE_DISK_FULL',
    message,
    'free space on the state disk (or give the node a bigger one); the download resumes where it stopped',
  )

export class ReleaseStore {
  private readonly held = new Map<string, StoredRelease>()
  /** have.json writes of one release, one after another. */
  private readonly saving = new Map<string, Promise<void>>()

  constructor(
    readonly root: string,
    private readonly c: ReleaseStoreComponents,
  ) {}

  /** Reads what the store holds; a directory that does not parse is removed (it was never complete). */
  async load(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o755 })
    for (const id of await readdir(this.root)) {
      const dir = join(this.root, id)
      try {
        const release = parseRelease(await readFile(join(dir, MANIFEST_FILE)))
        if (release.id !== id) throw new Error(`its manifest hashes to ${release.id}`)
        const sigText = await readFile(join(dir, SIGNATURE_FILE), 'utf8')
        const h = Have.parse(JSON.parse(await readFile(join(dir, HAVE_FILE), 'utf8')))
        const pieces = pieceList(release.manifest)
        const have = Bitfield.fromBase64(pieces.length, h.have)
        this.held.set(id, { release, sigText, have, pieces, addedAtMs: h.addedAtMs, dir })
      } catch (err) {
        this.c.log.warn({ dir, err: (err as Error).message }, 'release store: unreadable entry removed')
        await rm(dir, { recursive: true, force: true })
      }
    }
  }

  get(id: string): StoredRelease | undefined {
    return this.held.get(id)
  }

  all(): StoredRelease[] {
    return [...this.held.values()].sort((a, b) => a.addedAtMs - b.addedAtMs)
  }

  /** The directory of a complete release, as netboot serves it; null while pieces are missing. */
  image(id: string): NetbootImage | null {
    const s = this.held.get(id)
    if (!s?.have.complete()) return null
    return { dir: s.dir, id, manifest: s.release.manifest, manifestBytes: s.release.manifestBytes }
  }

  /**
   * Starts holding a release whose signature the caller has checked: makes room (removing
   * releases not in `keep`, oldest first), writes the manifest and signature, and creates
   * the files. Already held: returns what is there (a download resumes).
   */
  async add(release: Release, sigText: string, keep: ReadonlySet<string>): Promise<StoredRelease> {
    const existing = this.held.get(release.id)
    if (existing) return existing
    await this.ensureRoom(releaseBytes(release.manifest), new Set([...keep, release.id]))
    const dir = join(this.root, release.id)
    const pieces = pieceList(release.manifest)
    const s: StoredRelease = {
      release,
      sigText,
      have: new Bitfield(pieces.length),
      pieces,
      addedAtMs: this.c.clock.nowMs(),
      dir,
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 })
      for (const [name, f] of Object.entries(release.manifest.files)) {
        const fh = await open(join(dir, name), 'a')
        await fh.truncate(f.bytes).finally(() => fh.close())
      }
      await writeFileAtomic(join(dir, MANIFEST_FILE), release.manifestBytes, 0o644)
      await writeFileAtomic(join(dir, SIGNATURE_FILE), sigText, 0o644)
      await this.saveHave(s)
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      if (isNoSpace(err))
        throw diskFull(`no room to start release ${release.id.slice(0, 12)} in ${this.root}`)
      throw err
    }
    this.held.set(release.id, s)
    return s
  }

  /** Keeps a piece only if its sha256 is the manifest's; a wrong or truncated one is refused whole. */
  async writePiece(id: string, index: number, data: Buffer): Promise<'stored' | 'already'> {
    const s = this.held.get(id)
    if (!s) throw new HomecloudError('RELEASE_UNKNOWN', `release ${id.slice(0, 12)} is not in the store`)
    const p = s.pieces[index]
    if (!p)
      throw new HomecloudError('RELEASE_PIECE_INVALID', `release ${id.slice(0, 12)} has no piece ${index}`)
    if (data.length !== p.bytes || createHash('sha256').update(data).digest('hex') !== p.sha256)
      throw new HomecloudError(
        'RELEASE_PIECE_INVALID',
        `piece ${index} of ${p.file} (${data.length} bytes) does not match its manifest hash (${p.bytes} bytes)`,
      )
    if (s.have.has(index)) return 'already'
    try {
      const fh = await open(join(s.dir, p.file), 'r+')
      try {
        await writeAllAt(fh, data, p.offset)
        await fh.datasync()
      } finally {
        await fh.close()
      }
      s.have.set(index)
      await this.saveHave(s)
    } catch (err) {
      s.have.clear(index)
      if (isNoSpace(err)) throw diskFull(`the disk of ${this.root} is full while storing piece ${index}`)
      throw err
    }
    return 'stored'
  }

  /** A held piece, checked again on the way out (a rotten one is dropped and fetched again). */
  async readPiece(id: string, index: number): Promise<Buffer | null> {
    const s = this.held.get(id)
    const p = s?.pieces[index]
    if (!s || !p || !s.have.has(index)) return null
    const buf = Buffer.alloc(p.bytes)
    const fh = await open(join(s.dir, p.file), 'r')
    try {
      await fh.read(buf, 0, p.bytes, p.offset)
    } finally {
      await fh.close()
    }
    if (createHash('sha256').update(buf).digest('hex') !== p.sha256) {
      this.c.log.error({ release: id, piece: index }, 'a stored piece no longer matches its hash; dropped')
      s.have.clear(index)
      await this.saveHave(s)
      return null
    }
    return buf
  }

  async remove(id: string): Promise<void> {
    const s = this.held.get(id)
    this.held.delete(id)
    if (s) await rm(s.dir, { recursive: true, force: true })
  }

  /** Bytes of a release still missing here. */
  missingBytes(id: string): number {
    const s = this.held.get(id)
    if (!s) return 0
    return s.pieces.filter((p) => !s.have.has(p.index)).reduce((n, p) => n + p.bytes, 0)
  }

  /**
   * Frees room for `bytes` by removing releases outside `keep`, oldest first;
   * RELEASE_DISK_FULL if that is not enough. A release's files are sparse until its pieces
   * arrive, so the free space does not yet show what the kept downloads under way will
   * write: their missing bytes are owed too. Without that, two releases started at once
   * each saw the same free space, neither made room, and one stopped part-way on a full
   * disk with releases it need not keep still there.
   */
  async ensureRoom(bytes: number, keep: ReadonlySet<string>): Promise<void> {
    const free = () => (this.c.freeBytes ?? freeBytesOf)(this.root)
    const owed = this.all()
      .filter((s) => keep.has(s.release.id))
      .reduce((n, s) => n + this.missingBytes(s.release.id), 0)
    for (const old of this.all().filter((s) => !keep.has(s.release.id))) {
      if ((await free()) >= bytes + owed) return
      this.c.log.info(
        { release: old.release.id, version: old.release.manifest.version },
        'release removed to make room',
      )
      this.c.counters?.inc(ABANDONED, abandonedLabels(old.have.complete()))
      await this.remove(old.release.id)
    }
    const left = await free()
    if (left < bytes + owed)
      throw diskFull(
        `release store ${this.root} needs ${mb(bytes)}${owed > 0 ? ` (and ${mb(owed)} for the downloads under way)` : ''} and has ${mb(left)} free; the ${this.held.size} release(s) it must keep stay`,
      )
  }

  private saveHave(s: StoredRelease): Promise<void> {
    const id = s.release.id
    const next = (this.saving.get(id) ?? Promise.resolve()).then(() =>
      writeFileAtomic(
        join(s.dir, HAVE_FILE),
        JSON.stringify({ v: 1, addedAtMs: s.addedAtMs, have: s.have.toBase64() }),
        0o644,
      ),
    )
    this.saving.set(
      id,
      next.catch(() => {}),
    )
    return next
  }
}

/**
 * Writes all of `data` at `offset`. A disk that fills up part-way makes write(2) return
 * short, without an error: one write would leave the piece half on disk (only the
 * have.json write after it happened to fail too, on a tmpfs). The next write fails
 * with ENOSPC.
 */
async function writeAllAt(fh: FileHandle, data: Buffer, offset: number): Promise<void> {
  let at = 0
  while (at < data.length) {
    const { bytesWritten } = await fh.write(data, at, data.length - at, offset + at)
    if (bytesWritten === 0) throw Object.assign(new Error('ENOSPC: nothing written'), { code: 'ENOSPC' })
    at += bytesWritten
  }
}

async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

function isNoSpace(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }
  return e?.code === 'ENOSPC' || e?.cause?.code === 'ENOSPC' || /ENOSPC/.test(String(e?.message))
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`
