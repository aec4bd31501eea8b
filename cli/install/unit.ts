import { join } from 'node:path'

// `homecloud install` on an existing Debian or Raspberry Pi OS machine (issue 15): where
// things go and the systemd unit, as pure functions of the install root. The root is `/`
// on a real machine; tests give a temporary one, and every path — the unit's too — is then
// inside it, so the unit's ExecStart runs against that root without a chroot.

export const UNIT_NAME = 'homecloud.service'
/** What the unit's [Install] section wants it by: the link `systemctl enable` would make. */
export const WANTED_BY = 'multi-user.target'

export interface InstallPaths {
  root: string
  /** The node's state: identity, certificates, etcd data (what `homecloud agent --state` takes). */
  stateDir: string
  config: string
  /** What install wrote and created, so uninstall removes exactly that. */
  manifest: string
  unitDir: string
  unit: string
  wantsDir: string
  wantsLink: string
}

export function installPaths(root: string): InstallPaths {
  const stateDir = join(root, 'var', 'lib', 'homecloud')
  const unitDir = join(root, 'etc', 'systemd', 'system')
  const wantsDir = join(unitDir, `${WANTED_BY}.wants`)
  return {
    root,
    stateDir,
    config: join(stateDir, 'config.json'),
    manifest: join(stateDir, 'install.json'),
    unitDir,
    unit: join(unitDir, UNIT_NAME),
    wantsDir,
    wantsLink: join(wantsDir, UNIT_NAME),
  }
}

/**
 * One ExecStart word as systemd reads it: `%` and `$` doubled (specifiers, variables);
 * a word with a space, quote or backslash double-quoted with C escapes.
 */
export function systemdWord(word: string): string {
  if (word.length === 0) return '""'
  if (/[\n\r\0]/.test(word))
    throw new Error(`a command-line word cannot hold a line break or NUL: ${JSON.stringify(word)}`)
  const escaped = word.replaceAll('%', '%%').replaceAll('$', '$$$$')
  if (!/[\s"'\\;]/.test(escaped)) return escaped
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

/** ExecStart's command line back to its words (the subset systemdWord writes). */
export function execStartWords(line: string): string[] {
  const words: string[] = []
  let i = 0
  while (i < line.length) {
    if (/\s/.test(line[i]!)) {
      i++
      continue
    }
    let word = ''
    if (line[i] === '"') {
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++
        word += line[i]
        i++
      }
      i++
    } else {
      while (i < line.length && !/\s/.test(line[i]!)) word += line[i++]
    }
    words.push(word.replaceAll('%%', '%').replaceAll('$$', '$'))
  }
  return words
}

export interface UnitInit {
  paths: InstallPaths
  /** The Node.js binary (24, the pinned LTS) and the CLI it runs. */
  nodeBin: string
  cli: string
}

/** The agent's command line, as the unit runs it. */
export function agentCommand(u: UnitInit): string[] {
  return [u.nodeBin, u.cli, 'agent', '--state', u.paths.stateDir, '--config', u.paths.config]
}

export function unitFile(u: UnitInit): string {
  return [
    '# Written by `homecloud install`; `homecloud uninstall` removes it and the state.',
    '[Unit]',
    'Description=homecloud node agent',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `ExecStart=${agentCommand(u).map(systemdWord).join(' ')}`,
    // The agent logs JSON lines to stderr: journald keeps them (journalctl -u homecloud).
    'StandardOutput=journal',
    'StandardError=journal',
    'SyslogIdentifier=homecloud',
    'Restart=on-failure',
    'RestartSec=5',
    // SIGTERM to the agent alone first: it stops etcd and Kubernetes in order itself.
    'KillMode=mixed',
    // The agent drains its node first (shutdownDrain.timeoutMs, 60 s by default), then stops.
    'TimeoutStopSec=150',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    `WantedBy=${WANTED_BY}`,
    '',
  ].join('\n')
}

/** The ExecStart line of a unit file, split into words; null when there is none. */
export function unitExecStart(text: string): string[] | null {
  const line = text.split('\n').find((l) => l.startsWith('ExecStart='))
  return line === undefined ? null : execStartWords(line.slice('ExecStart='.length))
}
