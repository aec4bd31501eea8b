import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { execa } from 'execa'
import { z } from 'zod'
import { type EtcdProgram, etcdBinDir, etcdBuildHint, etcdProgram } from './binaries.js'
import { EtcdError } from './model/errors.js'
import { formatInitialCluster, type InitialClusterEntry } from './model/initial-cluster.js'

// Snapshots for `homecloud recover`, through etcd's own tools: etcdctl streams a
// snapshot from a member (`snapshot save`), etcdutl reads and restores a file offline
// (`snapshot status`, `snapshot restore`: etcd 3.6 took both out of etcdctl). Restore
// rewrites the membership, real work not worth redoing. We check a file ourselves
// before restoring, so a corrupt snapshot is refused with our error before anything is
// written.

export interface EtcdctlTls {
  caFile: string
  certFile: string
  keyFile: string
}

export interface EtcdToolsInit {
  /** The directory holding etcdctl and etcdutl; default the pinned build (binaries.ts). */
  binDir?: string
  env?: Record<string, string>
}

export const snapshotSaveTimeoutMsDefault = 5 * 60_000
export const restoreTimeoutMsDefault = 5 * 60_000
export const sha256Bytes = 32
/** bbolt pages are 4 KiB; etcdctl's saved file is a whole number of 512-byte blocks plus the hash. */
const blockBytes = 512
const errorTextCharsMax = 2000

/** The tail etcdctl appends on save: sha256 of everything before it (etcd's own rule). */
export function snapshotHasHash(sizeBytes: number): boolean {
  return sizeBytes % blockBytes === sha256Bytes
}

export type SnapshotCheck =
  | { ok: true; sizeBytes: number }
  | { ok: false; reason: 'missing' | 'too-small' | 'no-hash' | 'hash-mismatch'; message: string }

/** Streams the file once: does the appended sha256 match the database before it? */
export async function checkSnapshotFile(path: string): Promise<SnapshotCheck> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch {
    return { ok: false, reason: 'missing', message: `${path} does not exist` }
  }
  if (size < blockBytes + sha256Bytes) {
    return {
      ok: false,
      reason: 'too-small',
      message: `${path} is ${size} bytes: too small for an etcd snapshot`,
    }
  }
  if (!snapshotHasHash(size)) {
    return {
      ok: false,
      reason: 'no-hash',
      message: `${path} has no integrity hash (truncated, or not saved by etcdctl snapshot save)`,
    }
  }
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { end: size - sha256Bytes - 1 }))
    hash.update(chunk as Buffer)
  const fh = await open(path, 'r')
  const tail = Buffer.alloc(sha256Bytes)
  try {
    await fh.read(tail, 0, sha256Bytes, size - sha256Bytes)
  } finally {
    await fh.close()
  }
  if (!hash.digest().equals(tail)) {
    return { ok: false, reason: 'hash-mismatch', message: `${path} is corrupt: its sha256 does not match` }
  }
  return { ok: true, sizeBytes: size }
}

const SnapshotStatusWire = z.object({
  hash: z.number().int().nonnegative(),
  revision: z.number().int().nonnegative(),
  totalKey: z.number().int().nonnegative(),
  totalSize: z.number().int().nonnegative(),
})

export interface SnapshotInfo {
  path: string
  sizeBytes: number
  revision: number
  totalKeys: number
}

export class EtcdTools {
  private readonly binDir: string

  constructor(private readonly init: EtcdToolsInit = {}) {
    this.binDir = init.binDir ?? etcdBinDir()
  }

  /** Saves a snapshot from one member to `path` (atomically: etcdctl writes `.part` and renames). */
  async snapshotSave(
    endpoint: string,
    tls: EtcdctlTls,
    path: string,
    timeoutMs = snapshotSaveTimeoutMsDefault,
  ): Promise<SnapshotInfo> {
    const args = [
      `--endpoints=${endpoint}`,
      `--cacert=${tls.caFile}`,
      `--cert=${tls.certFile}`,
      `--key=${tls.keyFile}`,
      // etcdctl bounds the whole download by the command timeout (default 5 s).
      `--command-timeout=${Math.ceil(timeoutMs / 1000)}s`,
      'snapshot',
      'save',
      path,
    ]
    await this.run(
      'etcdctl',
      args,
      timeoutMs + 5000,
      'ETCD_SNAPSHOT_FAILED',
      `snapshot save from ${endpoint}`,
    )
    const check = await checkSnapshotFile(path)
    if (!check.ok)
      throw new EtcdError('ETCD_SNAPSHOT_INVALID', `snapshot just saved is unusable: ${check.message}`)
    return this.snapshotStatus(path)
  }

  /** Revision and key count of a snapshot file (reads it; does not verify the hash). */
  async snapshotStatus(path: string): Promise<SnapshotInfo> {
    const out = await this.run(
      'etcdutl',
      ['snapshot', 'status', path, '-w', 'json'],
      60_000,
      'ETCD_SNAPSHOT_INVALID',
      'snapshot status',
    )
    let json: unknown
    try {
      json = JSON.parse(out.stdout)
    } catch {
      throw new EtcdError('ETCD_SNAPSHOT_INVALID', `snapshot status of ${path} is not JSON`)
    }
    const parsed = SnapshotStatusWire.safeParse(json)
    if (!parsed.success)
      throw new EtcdError('ETCD_RESPONSE_INVALID', `snapshot status: ${parsed.error.message}`)
    const { size } = await stat(path)
    return { path, sizeBytes: size, revision: parsed.data.revision, totalKeys: parsed.data.totalKey }
  }

  /**
   * Restores a snapshot into a new data directory for a fresh cluster (`homecloud
   * recover`): the file is checked first, restored next to `dataDir` and moved into
   * place only when complete, so a failure leaves no half-written data directory.
   */
  async snapshotRestore(r: {
    snapshotPath: string
    name: string
    dataDir: string
    peerUrl: string
    initialCluster: readonly InitialClusterEntry[]
    initialClusterToken: string
    timeoutMs?: number
  }): Promise<void> {
    const check = await checkSnapshotFile(r.snapshotPath)
    if (!check.ok) {
      throw new EtcdError(
        'ETCD_SNAPSHOT_INVALID',
        `refusing to restore: ${check.message}`,
        {},
        'use an older snapshot; this one is damaged',
      )
    }
    if (
      await stat(r.dataDir).then(
        () => true,
        () => false,
      )
    ) {
      throw new EtcdError(
        'ETCD_SNAPSHOT_FAILED',
        `${r.dataDir} exists: a restore never overwrites a data directory`,
        {},
        'move the old data directory aside first',
      )
    }
    const tmp = `${r.dataDir}.restore-${randomBytes(4).toString('hex')}`
    try {
      await this.run(
        'etcdutl',
        [
          'snapshot',
          'restore',
          r.snapshotPath,
          `--name=${r.name}`,
          `--data-dir=${tmp}`,
          `--initial-cluster=${formatInitialCluster(r.initialCluster)}`,
          `--initial-cluster-token=${r.initialClusterToken}`,
          `--initial-advertise-peer-urls=${r.peerUrl}`,
        ],
        r.timeoutMs ?? restoreTimeoutMsDefault,
        'ETCD_SNAPSHOT_FAILED',
        `snapshot restore of ${r.snapshotPath}`,
      )
      await rename(tmp, r.dataDir)
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }

  private async run(
    program: EtcdProgram,
    args: string[],
    timeoutMs: number,
    code: 'ETCD_SNAPSHOT_FAILED' | 'ETCD_SNAPSHOT_INVALID',
    what: string,
  ) {
    const binary = etcdProgram(program, this.binDir)
    const r = await execa(binary, args, {
      env: { ETCDCTL_API: '3', ...this.init.env },
      reject: false,
      timeout: timeoutMs,
      stdin: 'ignore',
      maxBuffer: 16 * 1024 * 1024,
    })
    if ((r as { code?: string }).code === 'ENOENT') {
      throw new EtcdError('ETCD_NOT_INSTALLED', `${binary} not found`, {}, etcdBuildHint)
    }
    if (r.failed) {
      const said = etcdctlError(String(r.stderr ?? ''))
      const invalid = /sha256|missing hash|invalid argument|not a bolt|invalid database/i.test(said)
      throw new EtcdError(
        invalid ? 'ETCD_SNAPSHOT_INVALID' : code,
        `${what} failed: ${r.timedOut ? `no result within ${timeoutMs} ms` : said || `exit ${r.exitCode}`}`,
        { etcdMessage: said },
      )
    }
    return { stdout: String(r.stdout ?? '') }
  }
}

/** etcdctl and etcdutl print "Error: …" last, after their JSON log lines. */
export function etcdctlError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim())
  const error = lines.reverse().find((l) => l.startsWith('Error:'))
  const text = error ? error.slice('Error:'.length).trim() : (lines.find((l) => l !== '') ?? '')
  return text.slice(0, errorTextCharsMax)
}
