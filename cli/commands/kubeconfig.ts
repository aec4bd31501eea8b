import { Command } from 'commander'
import { HomecloudError } from '../../agent/core/errors.js'
import {
  adminKubeconfigFrom,
  lbPortDefault,
  readNodeAdminKubeconfig,
} from '../../agent/kube/admin-kubeconfig.js'
import { readAdminConfig } from '../../agent/trust/admin-config.js'

export function kubeconfigCommand(): Command {
  return new Command('kubeconfig')
    .description(
      "print an admin kubeconfig (through a node's local API load balancer): homecloud kubeconfig --admin admin.json > ~/.kube/config",
    )
    .option('--admin <file>', 'the admin client config written by `homecloud init`')
    .option(
      '--state <dir>',
      "on a control-plane board: its state directory (uses the board's own admin kubeconfig)",
    )
    .option('--server <host[:port]>', 'the load balancer to go through (default 127.0.0.1:6444, this node)')
    .action(async (opts: { admin?: string; state?: string; server?: string }) => {
      if (opts.admin) {
        const admin = await readAdminConfig(opts.admin)
        const [host, port] = (opts.server ?? '127.0.0.1').split(':')
        process.stdout.write(
          await adminKubeconfigFrom(admin, { host: host!, port: port ? Number(port) : lbPortDefault }),
        )
        return
      }
      if (opts.state) {
        process.stdout.write(await readNodeAdminKubeconfig(opts.state))
        return
      }
      throw new HomecloudError(
        'CONFIG_INVALID',
        'say where the admin identity is',
        'pass --admin admin.json or --state DIR',
      )
    })
}
