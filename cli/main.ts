import { Command, Option } from 'commander'
import { HomecloudError } from '../agent/core/errors.js'
import { agentCommand } from './commands/agent.js'
import { initCommand } from './commands/init.js'
import { labCommand } from './commands/lab.js'
import { statusCommand } from './commands/status.js'

const program = new Command()
program
  .name('homecloud')
  .description('A home cloud that assembles and heals itself.')
  .showHelpAfterError('(run with --help for usage)')
program.addCommand(initCommand())
program.addCommand(agentCommand())
program.addCommand(statusCommand())
program.addCommand(labCommand())
void Option

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof HomecloudError) {
    process.stderr.write(`error: ${err.message}\n`)
    if (err.hint) process.stderr.write(`  next: ${err.hint}\n`)
    process.exit(1)
  }
  throw err
}
