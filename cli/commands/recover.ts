import { Command } from 'commander'
import { recoverFromSnapshot } from '../../agent/controlplane/recover.js'
import { systemClock } from '../../agent/core/clock.js'

export function recoverCommand(): Command {
  return new Command('recover')
    .description('quorum lost for good: rebuild etcd on this surviving voter from its newest snapshot')
    .requiredOption('--state <dir>', "this node's state directory (stop its agent first)")
    .option(
      '--etcd-bin <dir>',
      'the directory holding etcdutl (default: the pinned build, or HOMECLOUD_ETCD_BIN)',
    )
    .action(async (opts: { state: string; etcdBin?: string }) => {
      const r = await recoverFromSnapshot({
        stateDir: opts.state,
        clock: systemClock(),
        ...(opts.etcdBin ? { etcdBinDir: opts.etcdBin } : {}),
      })
      const m = r.snapshot.manifest
      const out = [
        ...r.refused.map((x) => `refused snapshot ${x.name}: ${x.reason}`),
        `restored snapshot ${m.name} (revision ${m.revision}, taken ${new Date(m.takenAtMs).toISOString()}, sha256 ${m.sha256.slice(0, 12)}… checked)`,
        `etcd data: ${r.dataDir}, a new one-member cluster: ${r.nodeId}=${r.peerUrl}`,
        r.movedAside
          ? `the old data directory was moved to ${r.movedAside}`
          : 'there was no old data directory',
        'next: start the agent on this board. It runs etcd as the only voter and coordinates;',
        'the coordinator grows back to 3 voters by itself as eligible boards are alive.',
        'Boards that were voters of the lost cluster must not rejoin with their old etcd data: wipe <state>/data/etcd and <state>/data/etcd-member.json on them first.',
      ]
      process.stdout.write(`${out.join('\n')}\n`)
    })
}
