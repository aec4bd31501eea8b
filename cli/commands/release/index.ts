import { Command } from 'commander'
import { listCommand, promoteCommand, publishCommand, trustCommand } from './cluster.js'
import { buildCommand, keygenCommand, signCommand, verifyCommand } from './local.js'

export function releaseCommand(): Command {
  return new Command('release')
    .description('signed releases: build, sign, publish to the cluster, list, promote')
    .addCommand(keygenCommand())
    .addCommand(buildCommand())
    .addCommand(signCommand())
    .addCommand(verifyCommand())
    .addCommand(publishCommand())
    .addCommand(listCommand())
    .addCommand(promoteCommand())
    .addCommand(trustCommand())
}
