import { Command } from 'commander'
import { systemClock } from '../../agent/core/clock.js'
import { HomecloudError } from '../../agent/core/errors.js'
import { diskBoot } from '../../agent/disk/disk-boot.js'

// `homecloud disk-boot`: what /init's disk mode runs before the agent (images/netboot/disk.sh).
// The console lines go to stderr (the console); `name=NODE` to stdout for /init.

export function diskBootCommand(): Command {
  return new Command('disk-boot')
    .description('booted from a homecloud disk: found or join on the first boot, write the config')
    .requiredOption('--boot <dir>', "the boot partition's homecloud/ folder")
    .requiredOption('--state <dir>', 'state directory (the state partition)')
    .requiredOption('--host <ip>', "this boot's address")
    .requiredOption('--mac <mac>', "the NIC's MAC (names the node unless first-boot.json does)")
    .option('--config-extra <json>', 'fields /init adds to the agent config', '{}')
    .action(async (opts) => {
      let extra: unknown
      try {
        extra = JSON.parse(opts.configExtra)
      } catch {
        extra = null
      }
      if (!extra || typeof extra !== 'object' || Array.isArray(extra))
        throw new HomecloudError(
          'FIRST_BOOT_INVALID',
          `--config-extra is not a JSON object: ${opts.configExtra}`,
        )
      const r = await diskBoot({
        bootDir: opts.boot,
        stateDir: opts.state,
        host: opts.host,
        mac: opts.mac,
        configExtra: extra as Record<string, unknown>,
        clock: systemClock(),
      })
      for (const line of r.lines) process.stderr.write(`homecloud: ${line}\n`)
      process.stdout.write(`name=${r.name}\n`)
    })
}
