import { Command } from 'commander'
import { execa } from 'execa'
import { startAgent } from '../../agent/agent.js'
import { loadConfig } from '../../agent/config/load.js'
import { AGENT_VERSION, builtToExitAtStart } from '../../agent/version.js'

export function agentCommand(): Command {
  return new Command('agent')
    .description('run the node agent (the daemon every machine runs)')
    .requiredOption('--state <dir>', 'state directory: identity, certificates, data, logs')
    .option('--config <file>', 'JSON config file')
    .option('--host <ip>', 'address to listen on and announce')
    .option('--name <name>', 'human name of this node (default: hostname)')
    .option('--board <profile>', 'pretend to be this board (lab mode)')
    .option('--bootstrap <list>', 'comma-separated IP:PORT DHT peers to start from')
    .action(async (opts) => {
      if (builtToExitAtStart()) {
        process.stderr.write(`homecloud ${AGENT_VERSION} was built with --test-exit-at-start: exiting\n`)
        process.exit(1)
      }
      const config = await loadConfig(opts.config, {
        host: opts.host,
        name: opts.name,
        board: opts.board,
        bootstrap: opts.bootstrap ? String(opts.bootstrap).split(',') : undefined,
      })
      const agent = await startAgent(opts.state, config)
      // A stop signal can come twice (Ctrl-C reaches bin/homecloud.js's old-node wrapper
      // too, which forwards it): the second is the same request, not a harder one.
      let stopping = false
      const shutdown = () => {
        if (stopping) return
        stopping = true
        void agent.stop({ drain: true }).finally(() => process.exit(0))
      }
      process.on('SIGTERM', shutdown)
      process.on('SIGINT', shutdown)
      // A boot-slot change: stop cleanly, then the machine boots again (the lab's firmware
      // starts the agent from the chosen slot; a netbooted or disk machine reboots for real).
      void agent.restartRequested.then(async () => {
        if (stopping) return
        stopping = true
        await agent.stop()
        if (config.slots.backend === 'netboot' || config.slots.backend === 'grub')
          await execa('reboot', ['-f'], { reject: false })
        process.exit(0)
      })
      // `homecloud shutdown`: the node drained; stop (the drain is not asked again), then
      // power the machine off the way it is run (agent/components/shutdown-plan.ts).
      void agent.stopRequested.then(async ({ powerOff }) => {
        if (stopping) return
        stopping = true
        await agent.stop({ drain: true })
        if (powerOff && 'argv' in powerOff)
          await execa(powerOff.argv[0]!, powerOff.argv.slice(1), { reject: false })
        if (powerOff && 'signalParent' in powerOff) process.kill(process.ppid, powerOff.signalParent)
        process.exit(0)
      })
    })
}
