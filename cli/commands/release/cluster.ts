import { Command } from 'commander'
import { readPublicKeyArg } from '../../../agent/release/signature.js'
import type { ReleasesView } from '../../../agent/release/view.js'
import { adminCall } from '../../admin-client.js'
import { publishRelease, refused } from '../../release-publish.js'
import { defaultAdminConfig } from '../admin.js'

// The release commands that talk to the cluster over mutual TLS with the admin certificate.

const adminOpt = ['--admin <file>', 'admin client config (STATE/admin.json from `homecloud init`)'] as const
const out = (line: string) => process.stdout.write(`${line}\n`)

export function publishCommand(): Command {
  return new Command('publish')
    .description('upload a signed release to one node; the cluster spreads it to every node')
    .argument('<dir>', 'signed release directory (homecloud release build + sign)')
    .option(...adminOpt)
    .option('--node <name>', 'the node to upload to (default: the admin config’s first URL)')
    .option('--current', 'make it the current release of its architecture at once')
    .action(async (dir: string, opts: { admin?: string; node?: string; current?: boolean }) => {
      const tty = process.stderr.isTTY
      const r = await publishRelease({
        admin: opts.admin ?? defaultAdminConfig(),
        dir,
        node: opts.node,
        current: !!opts.current,
        progress: (line, partial) => process.stderr.write(partial && tty ? `\r${line}` : `${line}\n`),
      })
      if (tty) process.stderr.write('\n')
      out(
        `published ${r.version} (${r.arch}) ${r.id} on ${r.url}${r.current ? '; it is the current release' : ''}`,
      )
      out('every node fetches it from its peers: homecloud release list shows who holds it')
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
