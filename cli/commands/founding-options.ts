import { readFile } from 'node:fs/promises'
import { type Command, Option } from 'commander'

// The options every command that founds a cluster takes (`init`, `install`), written once
// so the two never drift apart in names, defaults or wording.

/** Adds the founder's options: cluster name, this node's name and address, join policy, password file. */
export function withFoundingOptions(cmd: Command, nameHelp: string): Command {
  return cmd
    .option('--name <name>', nameHelp, 'home')
    .option('--node-name <name>', "this node's name (default: hostname)")
    .option('--host <ip>', "this node's address (default: its first LAN address)")
    .addOption(
      new Option('--join-policy <policy>', 'how new nodes get in')
        .choices(['auto', 'approve'])
        .default('auto'),
    )
    .option(
      '--password-file <file>',
      'status-page password (first line); default: a new random one, printed once',
    )
}

/** The status-page password from `--password-file` (its first line, trimmed); '' when none was given. */
export async function readPasswordFile(file: string | undefined): Promise<string> {
  return file ? ((await readFile(file, 'utf8')).split('\n')[0] ?? '').trim() : ''
}
