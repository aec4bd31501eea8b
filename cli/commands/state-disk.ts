import { Command } from 'commander'
import { systemClock } from '../../agent/core/clock.js'
import { prepareStateDisk } from '../../agent/disk/state-disk-prepare.js'
import { stateDiskLine, stateDiskPolicy } from '../../agent/disk/state-disk-use.js'

// `homecloud state-disk`: what a netbooted machine's /init runs before the agent
// (images/netboot/init). The console lines go to stderr; for /init, stdout gets
// `state=disk|ram` and `line=…` (the line the agent's facts and status page show).

export function stateDiskCommand(): Command {
  return new Command('state-disk')
    .description("netboot: choose the disk that keeps this node's state, adopt it if allowed, mount it")
    .requiredOption('--state <dir>', 'the state directory to mount it on')
    .requiredOption('--cluster <id>', 'the cluster this boot is for (a disk of another is left alone)')
    .option('--policy <policy>', 'labelled-only (default) or adopt-empty', '')
    .action(async (opts) => {
      const clock = systemClock()
      const say = (line: string) => process.stderr.write(`homecloud: ${line}\n`)
      const outcome = await prepareStateDisk({
        stateDir: opts.state,
        policy: stateDiskPolicy(opts.policy),
        clusterId: opts.cluster,
        clock,
        say,
      })
      const line = stateDiskLine(outcome)
      say(`state ${line}`)
      process.stdout.write(`state=${outcome.kind === 'disk' ? 'disk' : 'ram'}\nline=${line}\n`)
    })
}
