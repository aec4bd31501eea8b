import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { HomecloudError } from '../../../agent/core/errors.js'
import { Bitfield } from '../../../agent/release/bitfield.js'
import { checkReleaseFiles, readReleaseDir } from '../../../agent/release/dir.js'
import { pieceList, summarize } from '../../../agent/release/manifest.js'
import { readPublicKeyArg } from '../../../agent/release/signature.js'
import type { ReleasesView } from '../../../agent/release/view.js'
import { readAdminConfig } from '../../../agent/trust/admin-config.js'
import { type AdminResponse, adminCall, adminCallAt } from '../../admin-client.js'
import { defaultAdminConfig } from '../admin.js'

// The release commands that talk to the cluster over mutual TLS with the admin certificate.

const adminOpt = ['--admin <file>', 'admin client config (STATE/admin.json from `homecloud init`)'] as const
const out = (line: string) => process.stdout.write(`${line}\n`)

function refused(r: AdminResponse): never {
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
async function nodeUrl(admin: string, node?: string): Promise<string> {
  const cfg = await readAdminConfig(admin)
  if (!node) return cfg.urls[0]!
  const r = await adminCall(admin, 'GET', '/api/v1/cluster')
  if (r.status !== 200) refused(r)
  const members = (r.body.members ?? []) as { id: string; name: string; addresses: string[]; state: string }[]
  const m = members.find((x) => x.name === node || x.id === node)
  if (!m?.addresses[0])
    throw new HomecloudError('NODE_UNKNOWN', `no member "${node}"`, 'see homecloud status for names')
  return `https://${m.addresses[0]}:${new URL(cfg.urls[0]!).port || 7443}`
}

function bar(done: number, total: number, startMs: number): string {
  const width = 30
  const filled = total ? Math.round((done / total) * width) : width
  const secs = Math.max((performance.now() - startMs) / 1000, 0.001)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${((done / Math.max(total, 1)) * 100).toFixed(0).padStart(3)}% ${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB ${(done / 1e6 / secs).toFixed(1)} MB/s`
}

export function publishCommand(): Command {
  return new Command('publish')
    .description('upload a signed release to one node; the cluster spreads it to every node')
    .argument('<dir>', 'signed release directory (homecloud release build + sign)')
    .option(...adminOpt)
    .option('--node <name>', 'the node to upload to (default: the admin config’s first URL)')
    .option('--current', 'make it the current release of its architecture at once')
    .action(async (dir: string, opts: { admin?: string; node?: string; current?: boolean }) => {
      const admin = opts.admin ?? defaultAdminConfig()
      const d = await readReleaseDir(dir)
      await checkReleaseFiles(d)
      const s = summarize(d.release)
      const base = await nodeUrl(admin, opts.node)
      const r = await adminCallAt(admin, base, 'POST', '/api/v1/releases', {
        manifest: d.release.manifestBytes.toString('base64'),
        sig: d.sigText,
      })
      if (r.status !== 200) refused(r)
      const pieces = pieceList(d.release.manifest)
      const have = Bitfield.fromBase64(pieces.length, String(r.body.have ?? ''))
      const todo = pieces.filter((p) => !have.has(p.index))
      const total = todo.reduce((n, p) => n + p.bytes, 0)
      process.stderr.write(
        `uploading ${s.version} (${s.arch}) to ${base}: ${todo.length} of ${pieces.length} pieces\n`,
      )
      const start = performance.now()
      let sent = 0
      const tty = process.stderr.isTTY
      for (const p of todo) {
        const buf = Buffer.alloc(p.bytes)
        const fh = await open(join(dir, p.file), 'r')
        await fh.read(buf, 0, p.bytes, p.offset).finally(() => fh.close())
        const w = await adminCallAt(admin, base, 'PUT', `/api/v1/releases/${s.id}/pieces/${p.index}`, buf, {
          timeoutMs: 60_000,
        })
        if (w.status !== 200) refused(w)
        sent += p.bytes
        process.stderr.write(tty ? `\r${bar(sent, total, start)}` : `${bar(sent, total, start)}\n`)
      }
      if (tty) process.stderr.write('\n')
      const pub = await adminCallAt(admin, base, 'POST', `/api/v1/releases/${s.id}/publish`, {
        current: !!opts.current,
      })
      if (pub.status !== 200) refused(pub)
      let current = pub.body.current === true
      if (opts.current && !current) {
        const c = await adminCall(admin, 'POST', '/api/v1/releases/current', { id: s.id })
        if (c.status !== 200) refused(c)
        current = true
      }
      out(
        `published ${s.version} (${s.arch}) ${s.id} on ${base}${current ? '; it is the current release' : ''}`,
      )
      out('every node fetches it from its peers: homecloud release list --admin … shows who holds it')
    })
}

export function listCommand(): Command {
  return new Command('list')
    .description('every known release, which nodes hold it complete, which is current')
    .option(...adminOpt)
    .option('--json', 'the raw GET /api/v1/releases answer')
    .action(async (opts: { admin?: string; json?: boolean }) => {
      const r = await adminCall(opts.admin ?? defaultAdminConfig(), 'GET', '/api/v1/releases')
      if (r.status !== 200) refused(r)
      const v = r.body as unknown as ReleasesView
      if (opts.json) {
        out(JSON.stringify(v, null, 2))
        return
      }
      out(
        `trusted release keys (version ${v.keysVersion}): ${v.trustedKeys.map((k) => `${k.key.slice(0, 16)}…`).join(', ') || 'none'}`,
      )
      for (const rel of v.releases) {
        const tag = rel.current ? ` CURRENT ${rel.arch}` : ''
        out(
          `${rel.version}  ${rel.arch}${rel.kube ? ' kube' : ''}  ${(rel.bytes / 1e6).toFixed(1)} MB  ${rel.id.slice(0, 16)}…${tag}`,
        )
        out(`  complete on ${rel.completeOn.length}: ${rel.completeOn.join(', ') || '-'}`)
        const partial = rel.holders.filter((h) => !h.complete)
        if (partial.length) out(`  fetching: ${partial.map((h) => `${h.name} ${h.have}/${h.of}`).join(', ')}`)
      }
      if (v.releases.length === 0) out('no release published yet (homecloud release publish DIR)')
      for (const p of v.problems) out(`problem: ${p}`)
    })
}

async function signerAction(
  admin: string | undefined,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const r = await adminCall(admin ?? defaultAdminConfig(), 'POST', path, body)
  if (r.status !== 200) refused(r)
  return r.body
}

export function promoteCommand(): Command {
  return new Command('promote')
    .description('make a published release the current one of its architecture')
    .argument('<id>', 'release id (homecloud release list)')
    .option(...adminOpt)
    .action(async (id: string, opts: { admin?: string }) => {
      const b = await signerAction(opts.admin, '/api/v1/releases/current', { id })
      out(
        b.changed
          ? `${id.slice(0, 16)}… is now the current ${String(b.arch)} release`
          : 'it already was current',
      )
    })
}

export function trustCommand(): Command {
  return new Command('trust')
    .description('add a release public key to the keys the cluster trusts')
    .argument('<key>', 'public key: hex or KEY.pub')
    .option('--note <text>', 'who holds the key')
    .option(...adminOpt)
    .action(async (arg: string, opts: { admin?: string; note?: string }) => {
      const key = await readPublicKeyArg(arg)
      const b = await signerAction(opts.admin, '/api/v1/releases/keys', {
        key,
        ...(opts.note ? { note: opts.note } : {}),
      })
      out(`the cluster trusts ${Number(b.keys)} release key(s) (key set version ${String(b.keysVersion)})`)
    })
}
