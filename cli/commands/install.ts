import { hostname } from 'node:os'
import { Command } from 'commander'
import { defaultHost } from '../../agent/agent.js'
import { install } from '../install/install.js'
import { uninstall } from '../install/uninstall.js'
import { readPasswordFile, withFoundingOptions } from './founding-options.js'

export function installCommand(): Command {
  const cmd = new Command('install')
    .description(
      'install the agent on this Debian / Raspberry Pi OS machine: state in /var/lib/homecloud, a systemd unit, logs in journald',
    )
    .option('--root <dir>', 'install under this directory instead of / (tests; systemctl is not called)', '/')
    .option(
      '--join <file>',
      "join the cluster of this join.json (from a member's state directory) instead of founding one",
    )
  return withFoundingOptions(cmd, 'cluster name when founding')
    .option('--no-start', 'write everything but do not start the service')
    .action(async (opts) => {
      const password = (await readPasswordFile(opts.passwordFile)) || undefined
      const host = opts.host ?? defaultHost()
      const r = await install({
        root: opts.root,
        ...(opts.join ? { join: opts.join } : {}),
        clusterName: opts.name,
        nodeName: opts.nodeName ?? hostname(),
        host,
        fixHost: opts.host !== undefined,
        joinPolicy: opts.joinPolicy,
        ...(password ? { password } : {}),
        start: opts.start,
        progress: (l) => process.stdout.write(`${l}\n`),
      })
      const out = process.stdout
      if (r.founded) {
        out.write(`founded cluster ${opts.name} (${r.founded.clusterId}); this node is ${r.founded.nodeId}\n`)
        out.write(`  admin client config: ${r.founded.adminConfig}\n`)
        if (r.founded.password) out.write(`  status-page password (shown once): ${r.founded.password}\n`)
      }
      out.write(`  state:  ${r.paths.stateDir}\n  unit:   ${r.paths.unit}\n`)
      out.write(`  status: http://${host}:7080/\n`)
      out.write(
        r.started
          ? '  running; logs: journalctl -u homecloud\n'
          : '  not started: systemctl daemon-reload && systemctl start homecloud\n',
      )
    })
}

export function uninstallCommand(): Command {
  return new Command('uninstall')
    .description(
      'remove what `homecloud install` put on this machine: the unit, the state directory, nothing left',
    )
    .option('--root <dir>', 'the root install was given', '/')
    .option(
      '--force',
      "delete the state even when the cluster would lose this node's data (etcd member, CA key)",
    )
    .action(async (opts) => {
      const r = await uninstall({
        root: opts.root,
        force: opts.force === true,
        progress: (l) => process.stdout.write(`${l}\n`),
      })
      for (const f of r.removed) process.stdout.write(`  removed ${f}\n`)
      for (const l of r.lost) process.stdout.write(`  deleted (--force): ${l}\n`)
    })
}
