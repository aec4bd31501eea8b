import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { HomecloudError } from '../agent/core/errors.js'
import { Bitfield } from '../agent/release/bitfield.js'
import { checkReleaseFiles, readReleaseDir } from '../agent/release/dir.js'
import { pieceList, summarize } from '../agent/release/manifest.js'
import { readAdminConfig } from '../agent/trust/admin-config.js'
import { type AdminResponse, adminCall, adminCallAt } from './admin-client.js'

// `homecloud release publish` (and the lab): upload a signed release to one node over
// mutual TLS with the admin certificate — the manifest and signature first (the node
// refuses an untrusted one before anything is written), then the pieces it lacks (an
// interrupted upload resumes), then "publish": the node announces it in etcd and the
// cluster spreads it.

export function refused(r: AdminResponse): never {
  const code = String(r.body.error ?? 'API_UNREACHABLE')
  const known =
    code.startsWith('RELEASE_') ||
    ['NOT_SIGNER', 'ADMIN_UNAUTHORIZED', 'ETCD_UNREACHABLE', 'NODE_UNKNOWN'].includes(code)
  throw new HomecloudError(
    (known ? code : 'API_UNREACHABLE') as ConstructorParameters<typeof HomecloudError>[0],
    String(r.body.message ?? `HTTP ${r.status}`),
    typeof r.body.hint === 'string' ? r.body.hint : undefined,
  )
}

/** The 7443 URL of a member by name or id (the admin config's first URL when none is named). */
export async function nodeTlsUrl(admin: string, node?: string): Promise<string> {
  const cfg = await readAdminConfig(admin)
  if (!node) return cfg.urls[0]!
  const r = await adminCall(admin, 'GET', '/api/v1/cluster')
  if (r.status !== 200) refused(r)
  const members = (r.body.members ?? []) as { id: string; name: string; addresses: string[] }[]
  const m = members.find((x) => x.name === node || x.id === node)
  if (!m?.addresses[0])
    throw new HomecloudError('NODE_UNKNOWN', `no member "${node}"`, 'see homecloud status for names')
  return `https://${m.addresses[0]}:${new URL(cfg.urls[0]!).port || 7443}`
}

export function progressBar(done: number, total: number, startMs: number): string {
  const width = 30
  const filled = total ? Math.round((done / total) * width) : width
  const secs = Math.max((performance.now() - startMs) / 1000, 0.001)
  const pct = ((done / Math.max(total, 1)) * 100).toFixed(0).padStart(3)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}% ${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB ${(done / 1e6 / secs).toFixed(1)} MB/s`
}

export interface PublishOptions {
  admin: string
  dir: string
  node?: string
  current?: boolean
  /** false: upload only, do not announce it to the cluster (the benchmark's plain copy). */
  announce?: boolean
  /** A line of progress; `partial` lines may overwrite each other on a terminal. */
  progress?: (line: string, partial: boolean) => void
}

export async function publishRelease(o: PublishOptions) {
  const d = await readReleaseDir(o.dir)
  await checkReleaseFiles(d)
  const s = summarize(d.release)
  const url = await nodeTlsUrl(o.admin, o.node)
  const r = await adminCallAt(o.admin, url, 'POST', '/api/v1/releases', {
    manifest: d.release.manifestBytes.toString('base64'),
    sig: d.sigText,
  })
  if (r.status !== 200) refused(r)
  const pieces = pieceList(d.release.manifest)
  const have = Bitfield.fromBase64(pieces.length, String(r.body.have ?? ''))
  const todo = pieces.filter((p) => !have.has(p.index))
  const total = todo.reduce((n, p) => n + p.bytes, 0)
  o.progress?.(
    `uploading ${s.version} (${s.arch}) to ${url}: ${todo.length} of ${pieces.length} pieces`,
    false,
  )
  const start = performance.now()
  let sent = 0
  for (const p of todo) {
    const buf = Buffer.alloc(p.bytes)
    const fh = await open(join(o.dir, p.file), 'r')
    await fh.read(buf, 0, p.bytes, p.offset).finally(() => fh.close())
    const w = await adminCallAt(o.admin, url, 'PUT', `/api/v1/releases/${s.id}/pieces/${p.index}`, buf, {
      timeoutMs: 60_000,
    })
    if (w.status !== 200) refused(w)
    sent += p.bytes
    o.progress?.(progressBar(sent, total, start), true)
  }
  // The benchmark's plain copy: the node holds it, the cluster is not told (nobody fetches it).
  if (o.announce === false) return { ...s, url, current: false, uploadedBytes: sent }
  const pub = await adminCallAt(o.admin, url, 'POST', `/api/v1/releases/${s.id}/publish`, {
    current: !!o.current,
  })
  if (pub.status !== 200) refused(pub)
  let current = pub.body.current === true
  if (o.current && !current) {
    const c = await adminCall(o.admin, 'POST', '/api/v1/releases/current', { id: s.id })
    if (c.status !== 200) refused(c)
    current = true
  }
  return { ...s, url, current, uploadedBytes: sent }
}
