import { homedir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { HomecloudError } from '../../agent/core/errors.js'
import { adminCall } from '../admin-client.js'

/** Where the admin client config is looked for when --admin is not given. */
export function defaultAdminConfig(): string {
  return process.env.HOMECLOUD_ADMIN ?? join(homedir(), '.config', 'homecloud', 'admin.json')
}

const adminOpt = [
  '--admin <file>',
  'admin client config (written by `homecloud init` as STATE/admin.json)',
] as const

async function act(
  opts: { admin?: string },
  path: string,
  body: unknown,
  done: (b: Record<string, unknown>) => string,
) {
  const r = await adminCall(opts.admin ?? defaultAdminConfig(), 'POST', path, body)
  if (r.status >= 400) {
    const code = String(r.body.error ?? 'ERROR')
    throw new HomecloudError(
      code === 'NODE_UNKNOWN' ? 'NODE_UNKNOWN' : code === 'NOT_SIGNER' ? 'NOT_SIGNER' : 'ADMIN_UNAUTHORIZED',
      `${String(r.body.message ?? r.status)}`,
      code === 'NODE_UNKNOWN' ? 'see `homecloud status` for names; pending nodes show their code' : undefined,
    )
  }
  process.stdout.write(`${done(r.body)}\n`)
}

export function approveCommand(): Command {
  return new Command('approve')
    .description('let a pending node join (compare its code with the node console first)')
    .argument('<node>', 'name or id of the pending node')
    .option(...adminOpt)
    .action(async (node, opts) => {
      await act(opts, '/api/v1/approve', { node }, (b) => {
        const e = b.approved as { name: string; id: string }
        return `approved ${e.name} (${e.id}); it joins on its next attempt`
      })
    })
}

export function revokeCommand(): Command {
  return new Command('revoke')
    .description("refuse a node's certificate everywhere from now on")
    .argument('<node>', 'name or id of the member')
    .option('--reason <text>', 'why (kept in the revocation list)')
    .option(...adminOpt)
    .action(async (node, opts) => {
      await act(opts, '/api/v1/revoke', { node, reason: opts.reason }, (b) => {
        const e = b.revoked as { name: string; id: string }
        return `revoked ${e.name} (${e.id}); every member refuses it from now on`
      })
    })
}

export function settingsCommand(): Command {
  return new Command('settings')
    .description('change cluster settings')
    .option('--join-policy <policy>', 'auto (join with the secret) or approve (wait for `homecloud approve`)')
    .option(
      '--state-disk-policy <policy>',
      'netbooted machines: labelled-only (a homecloud-state filesystem only) or adopt-empty (also format an empty disk)',
    )
    .option(...adminOpt)
    .action(async (opts) => {
      if (!opts.joinPolicy && !opts.stateDiskPolicy)
        throw new HomecloudError(
          'CONFIG_INVALID',
          'name a setting to change',
          'pass --join-policy or --state-disk-policy',
        )
      const change = {
        ...(opts.joinPolicy ? { joinPolicy: opts.joinPolicy } : {}),
        ...(opts.stateDiskPolicy ? { stateDiskPolicy: opts.stateDiskPolicy } : {}),
      }
      await act(opts, '/api/v1/settings', change, (b) =>
        [
          b.joinPolicy ? `join policy is now ${String(b.joinPolicy)}` : '',
          b.stateDiskPolicy ? `state-disk policy is now ${String(b.stateDiskPolicy)}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      )
    })
}
