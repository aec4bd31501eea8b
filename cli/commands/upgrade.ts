import { Command } from 'commander'
import type { UpgradeAnswer } from '../../agent/components/upgrade-routes.js'
import { HomecloudError } from '../../agent/core/errors.js'
import type { RolloutBody } from '../../control/rollout/record.js'
import { type AdminResponse, adminCall } from '../admin-client.js'
import { renderTable } from '../table.js'
import { defaultAdminConfig } from './admin.js'

// `homecloud upgrade start|status|pause|resume|abort`: the admin certificate over 7443.
// The record the coordinator's rollout controller follows lives in etcd; any control-plane
// node answers (the CLI tries the admin config's URLs in turn).

const adminOpt = ['--admin <file>', 'admin client config (STATE/admin.json from `homecloud init`)'] as const
const out = (line: string) => process.stdout.write(`${line}\n`)

function refusedUpgrade(r: AdminResponse): never {
  const code = String(r.body.error ?? 'API_UNREACHABLE')
  const known = ['ROLLOUT_REFUSED', 'RELEASE_UNKNOWN', 'NOT_SIGNER', 'ADMIN_UNAUTHORIZED', 'ETCD_UNREACHABLE']
  throw new HomecloudError(
    (known.includes(code) ? code : 'API_UNREACHABLE') as ConstructorParameters<typeof HomecloudError>[0],
    String(r.body.message ?? `HTTP ${r.status}`),
    typeof r.body.hint === 'string' ? r.body.hint : undefined,
  )
}

export function upgradeCommand(): Command {
  const cmd = new Command('upgrade').description(
    'move every node to a release, one at a time, drained, health-gated, rolled back by itself',
  )
  cmd
    .command('start')
    .description('start a rollout to a published release (its id, or a version: every architecture)')
    .argument('<release>', 'release id or version (homecloud release list)')
    .option(
      '--canary <n>',
      'workers upgraded before any control-plane board',
      (v) => Number.parseInt(v, 10),
      1,
    )
    .option('--retry-bad', 'try a release that failed before (it was marked bad)')
    .option(...adminOpt)
    .action(async (release: string, opts: { canary: number; retryBad?: boolean; admin?: string }) => {
      const r = await adminCall(opts.admin ?? defaultAdminConfig(), 'POST', '/api/v1/upgrade', {
        release,
        canary: opts.canary,
        retryBad: !!opts.retryBad,
      })
      if (r.status !== 200) refusedUpgrade(r)
      const b = (r.body as { rollout: RolloutBody }).rollout
      out(`rollout ${b.id} to ${b.target?.version} started (canary ${b.canary}): homecloud upgrade status`)
    })
  for (const [verb, said] of [
    ['pause', 'paused: the node in progress finishes, no other starts'],
    ['resume', 'resumed'],
    ['abort', 'aborted: the node in progress finishes (committed or reverted), no other starts'],
  ] as const)
    cmd
      .command(verb)
      .description(`${verb} the rollout`)
      .option(...adminOpt)
      .action(async (opts: { admin?: string }) => {
        const r = await adminCall(opts.admin ?? defaultAdminConfig(), 'POST', `/api/v1/upgrade/${verb}`, {})
        if (r.status !== 200) refusedUpgrade(r)
        out(`rollout ${said}`)
      })
  cmd
    .command('status')
    .description('the rollout: each node’s version, slot and step; what it waits for; why it halted')
    .option('--json', 'the raw GET /api/v1/upgrade answer')
    .option(...adminOpt)
    .action(async (opts: { admin?: string; json?: boolean }) => {
      const r = await adminCall(opts.admin ?? defaultAdminConfig(), 'GET', '/api/v1/upgrade')
      if (r.status !== 200) refusedUpgrade(r)
      const v = r.body as unknown as UpgradeAnswer
      if (opts.json) out(JSON.stringify(v, null, 2))
      else for (const line of formatUpgrade(v)) out(line)
    })
  return cmd
}

export function formatUpgrade(v: UpgradeAnswer): string[] {
  const r = v.rollout
  const lines: string[] = []
  if (!r?.target) lines.push('no rollout has run')
  else {
    lines.push(
      `rollout ${r.id} to ${r.target.version}: ${r.phase}${r.current ? ` — ${r.current.name} at ${r.current.step}` : ''}`,
    )
    if (r.waiting) lines.push(`waiting: ${r.waiting}`)
    if (r.halt) lines.push(`halted: ${r.halt.reason}`)
  }
  if (v.lock) lines.push(`cluster lock: ${v.lock.summary}`)
  for (const b of r?.bad ?? []) lines.push(`bad release ${b.version} (${b.id.slice(0, 12)}): ${b.reason}`)
  const rows = v.nodes.map((n) => [
    n.name,
    n.alive ? 'up' : 'down',
    n.version ?? '-',
    n.slots
      ? `${n.slots.booted ?? '-'}${n.slots.committed ? '' : ' (trying)'} good ${n.slots.good ?? '-'}`
      : '-',
    n.step ?? n.outcome ?? '',
  ])
  lines.push(...renderTable(['node', 'state', 'version', 'slot', 'step'], rows).split('\n'))
  return lines
}
