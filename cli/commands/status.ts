import { Command } from 'commander'
import { HomecloudError } from '../../agent/core/errors.js'
import { fetchClusterView } from '../../lab/wait.js'
import { formatClusterView } from '../status.js'

export function statusCommand(): Command {
  return new Command('status')
    .description('show the cluster as a node sees it')
    .option('--url <url>', "any node's status URL", 'http://127.0.0.1:7080/')
    .option('--json', 'print the raw /api/v1/cluster JSON')
    .action(async (opts) => {
      const view = await fetchClusterView(opts.url, 5000)
      if (!view) {
        throw new HomecloudError(
          'API_UNREACHABLE',
          `no agent answered at ${opts.url}`,
          'is the agent running? try --url http://NODE:7080/',
        )
      }
      process.stdout.write(
        opts.json ? `${JSON.stringify(view, null, 2)}\n` : `${formatClusterView(view, Date.now())}\n`,
      )
    })
}
