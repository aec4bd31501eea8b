import { Command } from 'commander'
import { recoverFromSnapshot } from '../../agent/controlplane/recover.js'
import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { adminCallAt } from '../admin-client.js'
import { defaultAdminConfig } from './admin.js'

// Two ways: with the agent running, ask the surviving voter's agent (admin certificate,
// 7443) to recover — it stops its own etcd, restores and starts again, like the status
// page's action; or, with the agent stopped, restore from this board's own snapshots.

interface RecoverOpts {
  state?: string
  etcdBin?: string
  node?: string
  admin?: string
  snapshot?: string
}

export function recoverCommand(): Command {
  return new Command('recover')
    .description('quorum lost for good: rebuild etcd on a surviving voter from a snapshot')
    .option('--node <url>', "the surviving voter's agent API, https://NODE:7443 (its agent keeps running)")
    .option('--admin <file>', 'admin client config for --node (default: ~/.config/homecloud/admin.json)')
    .option('--snapshot <node/name>', 'with --node: this snapshot (default: the newest intact one offered)')
    .option('--state <dir>', "without --node: this node's state directory (its agent stopped)")
    .option(
      '--etcd-bin <dir>',
      'the directory holding etcdutl (default: the pinned build, or HOMECLOUD_ETCD_BIN)',
    )
    .action(async (opts: RecoverOpts) => {
      if (opts.node) return recoverThroughAgent(opts.node, opts.admin ?? defaultAdminConfig(), opts.snapshot)
      if (!opts.state)
        throw new HomecloudError(
          'CONFIG_INVALID',
          'give --node URL (agent running) or --state DIR (agent stopped)',
        )
      return recoverOffline(opts.state, opts.etcdBin)
    })
}

async function recoverThroughAgent(node: string, admin: string, snapshot?: string): Promise<void> {
  let choice = snapshot
  if (!choice) {
    const listed = await adminCallAt(admin, node, 'GET', '/api/v1/recovery')
    if (listed.status !== 200) throw failed(listed.body)
    const offers = (listed.body.snapshots as { node: string; name: string; manifest: unknown }[]) ?? []
    const best = offers.find((o) => o.manifest)
    if (!best) throw new HomecloudError('RECOVER_REFUSED', 'no node offers an intact snapshot')
    choice = `${best.node}/${best.name}`
  }
  const [from, name] = choice.split('/')
  const r = await adminCallAt(
    admin,
    node,
    'POST',
    '/api/v1/recover',
    { node: from, name },
    { timeoutMs: 600_000 },
  )
  if (r.status !== 200) throw failed(r.body)
  process.stdout.write(
    `recovered from ${choice} (revision ${r.body.revision}) as etcd epoch ${r.body.epoch}; the cluster grows back to 3 voters by itself, and voters of the lost cluster that come back move their old data aside\n`,
  )
}

function failed(body: Record<string, unknown>): HomecloudError {
  return new HomecloudError('RECOVER_REFUSED', String(body.message ?? JSON.stringify(body)))
}

async function recoverOffline(state: string, etcdBin?: string): Promise<void> {
  const r = await recoverFromSnapshot({
    stateDir: state,
    clock: systemClock(),
    ...(etcdBin ? { etcdBinDir: etcdBin } : {}),
  })
  const m = r.snapshot.manifest
  const out = [
    ...r.refused.map((x) => `refused snapshot ${x.name}: ${x.reason}`),
    `restored snapshot ${m.name} (revision ${m.revision}, taken ${new Date(m.takenAtMs).toISOString()}, sha256 ${m.sha256.slice(0, 12)}… checked)`,
    `etcd data: ${r.dataDir}, a new one-member cluster: ${r.nodeId}=${r.peerUrl}`,
    r.movedAside ? `the old data directory was moved to ${r.movedAside}` : 'there was no old data directory',
    'next: start the agent on this board. It runs etcd as the only voter, coordinates and',
    'signs the new epoch into the cluster settings; the coordinator grows back to 3 voters by itself.',
    'Voters of the lost cluster that come back learn the new epoch from the mesh and move their old data aside.',
  ]
  process.stdout.write(`${out.join('\n')}\n`)
}
