import { hostname } from 'node:os'
import { Command, Option } from 'commander'
import { defaultHost } from '../../agent/agent.js'
import { systemClock } from '../../agent/core/clock.js'
import { generatePassword } from '../../agent/core/password.js'
import { readPublicKeyArg } from '../../agent/release/signature.js'
import { writeInitialReleaseKeys } from '../../agent/release/writes.js'
import { foundCluster } from '../../agent/trust/founding.js'
import { readPasswordFile, withFoundingOptions } from './founding-options.js'

export function initCommand(): Command {
  const cmd = new Command('init')
    .description('found a new cluster on this node: cluster id, CA, join secret, certificates')
    .requiredOption('--state <dir>', 'state directory of this node')
  return withFoundingOptions(cmd, 'cluster name')
    .addOption(
      new Option('--cert-lifetime <seconds>', 'node certificate lifetime')
        .argParser((v) => Number.parseInt(v, 10))
        .hideHelp(),
    )
    .option('--force', 'replace a cluster already in this state directory')
    .option(
      '--release-key <pub...>',
      'release public key(s) the cluster trusts (hex or KEY.pub from `homecloud release keygen`)',
    )
    .action(async (opts) => {
      const host = opts.host ?? defaultHost()
      const given = await readPasswordFile(opts.passwordFile)
      const uiPassword = given || generatePassword()
      const founded = await foundCluster({
        stateDir: opts.state,
        clusterName: opts.name,
        nodeName: opts.nodeName ?? hostname(),
        host,
        joinPolicy: opts.joinPolicy,
        certValidityMs: opts.certLifetime ? opts.certLifetime * 1000 : undefined,
        force: opts.force,
        uiPassword,
        clock: systemClock(),
      })
      const releaseKeys = await Promise.all(((opts.releaseKey as string[]) ?? []).map(readPublicKeyArg))
      if (releaseKeys.length) await writeInitialReleaseKeys(opts.state, founded.clusterId, releaseKeys)
      const out = process.stdout
      out.write(`founded cluster ${opts.name} (${founded.clusterId}); this node is ${founded.nodeId}\n`)
      out.write(`  join material for new machines: ${founded.joinFile} (secret: keep it private)\n`)
      out.write(`  admin client config:            ${founded.adminConfig}\n`)
      if (!given)
        out.write(`  status page password:           ${uiPassword}   (shown once; only its hash is kept)\n`)
      if (releaseKeys.length) out.write(`  trusted release keys:           ${releaseKeys.length}\n`)
      out.write(`start the agent: homecloud agent --state ${opts.state} --host ${host}\n`)
    })
}
