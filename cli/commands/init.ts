import { existsSync } from 'node:fs'
import { Command } from 'commander'
import { HomecloudError } from '../../agent/core/errors.js'
import { loadOrCreateIdentity } from '../../agent/identity/identity.js'
import { newClusterId } from '../../agent/mesh/cluster-id.js'
import { writeClusterFile } from '../../agent/state/cluster-file.js'
import { statePaths } from '../../agent/state/paths.js'

export function initCommand(): Command {
  return new Command('init')
    .description('found a new cluster on this node')
    .requiredOption('--state <dir>', 'state directory of this node')
    .option('--name <name>', 'cluster name', 'home')
    .option('--force', 'overwrite an existing cluster in this state directory')
    .action(async (opts) => {
      const paths = statePaths(opts.state)
      if (existsSync(paths.clusterFile) && !opts.force) {
        throw new HomecloudError(
          'STATE_DIR',
          `${opts.state} already holds a cluster`,
          'use --force to replace it (the old cluster is lost to this node)',
        )
      }
      const { identity } = await loadOrCreateIdentity(paths.identityKey)
      const id = newClusterId()
      await writeClusterFile(paths.clusterFile, { v: 1, id, name: opts.name })
      process.stdout.write(`founded cluster ${opts.name} (${id}); this node is ${identity.id}\n`)
      process.stdout.write(`start it with: homecloud agent --state ${opts.state}\n`)
    })
}
