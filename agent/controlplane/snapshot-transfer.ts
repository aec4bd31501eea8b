import { createHash, type Hash, randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { PeerConn } from '../mesh/swarm.js'
import { encodeFrame } from '../mesh/wire.js'
import { CONTROL_LIMITS, type SnapshotChunk } from './messages.js'
import {
  type HeldSnapshot,
  pruneSnapshots,
  snapshotPaths,
  snapshotsDir,
  writeManifest,
} from './snapshot-store.js'

// Snapshots travel over the mesh in `snapshot-chunk` frames rather than being pulled
// over the 7443 API: the mesh connection is already mutually authenticated and
// encrypted, the sender's identity (and whether it is an etcd voter) is known per
// connection without a second certificate path, and the coordinator pushes to exactly
// the nodes it picked. The 64 KiB frame limit stays as it is; a snapshot is cut into
// 32 KiB pieces sent in order, and the receiver keeps the file only when the sha256
// of the whole matches.

type Chunk = SnapshotChunk

export const transfersMax = 4
const transferIdleMsMax = 60_000
/** Pause after this many frames so a large snapshot does not flood the link. */
const framesPerBurst = 16
const burstPauseMs = 20

interface Transfer {
  name: string
  sha256: string
  total: number
  revision: number
  takenAtMs: number
  from: string
  written: number
  tmp: string
  hash: Hash
  lastMono: number
}

export interface SnapshotReceiverComponents {
  clock: Clock
  log: Logger
  /** The node id behind a mesh key when that node announces itself an etcd voter; else null. */
  voterIdOfKey(remoteKeyHex: string): string | null
}

export class SnapshotReceiver {
  private readonly transfers = new Map<string, Transfer>()
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly stateDir: string,
    private readonly c: SnapshotReceiverComponents,
  ) {}

  /** Frames are handled one at a time, in arrival order. */
  accept(conn: PeerConn, msg: Chunk): void {
    const from = this.c.voterIdOfKey(conn.remoteKeyHex)
    if (!from) {
      this.c.log.warn(
        { from: conn.remoteKeyHex.slice(0, 12) },
        'snapshot refused: the sender is not an etcd voter',
      )
      return
    }
    this.queue = this.queue
      .then(() => this.piece(conn.remoteKeyHex, from, msg))
      .catch((err) => {
        this.c.log.warn({ err: (err as Error).message, snapshot: msg.name }, 'snapshot transfer failed')
        void this.abort(conn.remoteKeyHex)
      })
  }

  async stop(): Promise<void> {
    await this.queue.catch(() => {})
    for (const key of [...this.transfers.keys()]) await this.abort(key)
  }

  private async piece(key: string, from: string, msg: Chunk): Promise<void> {
    const data = Buffer.from(msg.data, 'base64')
    if (data.length === 0 || data.length > CONTROL_LIMITS.snapshotChunkBytes)
      throw new Error(`a piece of ${data.length} bytes`)
    let t = this.transfers.get(key)
    if (msg.offset === 0) {
      if (t) await this.abort(key)
      await this.dropIdle()
      if (this.transfers.size >= transfersMax) throw new Error('too many snapshot transfers at once')
      await mkdir(snapshotsDir(this.stateDir), { recursive: true, mode: 0o700 })
      t = {
        name: msg.name,
        sha256: msg.sha256,
        total: msg.total,
        revision: msg.revision,
        takenAtMs: msg.takenAtMs,
        from,
        written: 0,
        tmp: join(snapshotsDir(this.stateDir), `.incoming-${randomBytes(4).toString('hex')}`),
        hash: createHash('sha256'),
        lastMono: this.c.clock.monoMs(),
      }
      this.transfers.set(key, t)
    }
    if (!t) return // a piece of a transfer we already gave up on
    if (t.name !== msg.name || t.sha256 !== msg.sha256 || t.total !== msg.total || t.written !== msg.offset) {
      throw new Error(`out-of-order piece at ${msg.offset} (expected ${t.written} of ${t.name})`)
    }
    if (t.written + data.length > t.total) throw new Error(`more than the announced ${t.total} bytes`)
    const fh = await open(t.tmp, t.written === 0 ? 'w' : 'a', 0o600)
    try {
      await fh.write(data)
      if (t.written + data.length === t.total) await fh.sync()
    } finally {
      await fh.close()
    }
    t.hash.update(data)
    t.written += data.length
    t.lastMono = this.c.clock.monoMs()
    if (t.written < t.total) return
    this.transfers.delete(key)
    const sha = t.hash.digest('hex')
    if (sha !== t.sha256) {
      await rm(t.tmp, { force: true })
      throw new Error(`sha256 mismatch: got ${sha.slice(0, 12)}…, announced ${t.sha256.slice(0, 12)}…`)
    }
    const paths = snapshotPaths(this.stateDir, t.name)
    await rename(t.tmp, paths.file)
    await writeManifest(this.stateDir, {
      v: 1,
      name: t.name,
      sha256: t.sha256,
      sizeBytes: t.total,
      revision: t.revision,
      takenAtMs: t.takenAtMs,
      from: t.from,
    })
    await pruneSnapshots(this.stateDir)
    this.c.log.info({ snapshot: t.name, from, bytes: t.total }, 'snapshot received')
  }

  private async dropIdle(): Promise<void> {
    const now = this.c.clock.monoMs()
    for (const [key, t] of this.transfers) if (now - t.lastMono > transferIdleMsMax) await this.abort(key)
  }

  private async abort(key: string): Promise<void> {
    const t = this.transfers.get(key)
    this.transfers.delete(key)
    if (t) await rm(t.tmp, { force: true })
  }
}

/** Pushes one held snapshot down a mesh connection, in order. */
export async function sendSnapshot(conn: PeerConn, s: HeldSnapshot, clock: Clock): Promise<void> {
  const m = s.manifest
  const fh = await open(s.path, 'r')
  try {
    const buf = Buffer.alloc(CONTROL_LIMITS.snapshotChunkBytes)
    let offset = 0
    let frames = 0
    while (offset < m.sizeBytes) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, m.sizeBytes - offset), offset)
      if (bytesRead === 0) throw new Error(`${s.path} is shorter than its manifest says`)
      conn.write(
        encodeFrame({
          t: 'snapshot-chunk',
          name: m.name,
          sha256: m.sha256,
          revision: m.revision,
          takenAtMs: m.takenAtMs,
          total: m.sizeBytes,
          offset,
          data: buf.subarray(0, bytesRead).toString('base64'),
        }),
      )
      offset += bytesRead
      if (++frames % framesPerBurst === 0)
        await new Promise<void>((r) => clock.setTimeout(() => r(), burstPauseMs))
    }
  } finally {
    await fh.close()
  }
}
