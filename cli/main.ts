import { Command } from 'commander'
import { HomecloudError } from '../agent/core/errors.js'
import { approveCommand, revokeCommand, settingsCommand } from './commands/admin.js'
import { agentCommand } from './commands/agent.js'
import { caCommand } from './commands/ca.js'
import { diskBootCommand } from './commands/disk-boot.js'
import { drainCommand, undrainCommand } from './commands/drain.js'
import { imageCommand } from './commands/image.js'
import { initCommand } from './commands/init.js'
import { installCommand, uninstallCommand } from './commands/install.js'
import { kubeconfigCommand } from './commands/kubeconfig.js'
import { labCommand } from './commands/lab.js'
import { recoverCommand } from './commands/recover.js'
import { releaseCommand } from './commands/release/index.js'
import { shutdownCommand } from './commands/shutdown.js'
import { stateDiskCommand } from './commands/state-disk.js'
import { statusCommand } from './commands/status.js'
import { upgradeCommand } from './commands/upgrade.js'
import { survivePipeClose } from './pipes.js'

survivePipeClose({ stdout: process.stdout, stderr: process.stderr })

const program = new Command()
program
  .name('homecloud')
  .description('A home cloud that assembles and heals itself.')
  .showHelpAfterError('(run with --help for usage)')
program.addCommand(initCommand())
program.addCommand(agentCommand())
program.addCommand(statusCommand())
program.addCommand(approveCommand())
program.addCommand(revokeCommand())
program.addCommand(settingsCommand())
program.addCommand(labCommand())
program.addCommand(recoverCommand())
program.addCommand(kubeconfigCommand())
program.addCommand(caCommand())
// Drain and undrain (issue 6).
program.addCommand(drainCommand())
program.addCommand(undrainCommand())
program.addCommand(releaseCommand())
// On an existing Debian / Raspberry Pi OS machine (issue 15).
program.addCommand(installCommand())
program.addCommand(uninstallCommand())
program.addCommand(imageCommand())
// Run by /init on a machine booted from a homecloud disk (images/netboot/disk.sh).
program.addCommand(diskBootCommand(), { hidden: true })
program.addCommand(stateDiskCommand(), { hidden: true })
// A/B upgrades (issue 14).
program.addCommand(upgradeCommand())
// A node shut down on purpose drains first (issue 14).
program.addCommand(shutdownCommand())

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
