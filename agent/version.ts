import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from './core/package-root.js'

const stampPattern = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$/

/**
 * The agent version gossiped in node records: the release version stamped into the
 * bundle (`VERSION`, written by images/netboot/build.sh --version), else the package
 * version. The rollout's health gate waits for a rebooted node to announce its new
 * release's version, so the two must agree.
 */
export const AGENT_VERSION: string = (() => {
  const root = packageRoot()
  try {
    const stamped = readFileSync(join(root, 'VERSION'), 'utf8').trim()
    if (stampPattern.test(stamped)) return stamped
  } catch {
    // Not a release bundle: the package version.
  }
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
    return String(pkg.version)
  } catch {
    return '0.0.0'
  }
})()

/**
 * A release built with `--test-exit-at-start` (tests only): its agent refuses to start,
 * like a release whose agent crashes at boot. The rollout must bring such a node back
 * on its last good slot by itself.
 */
export function builtToExitAtStart(): boolean {
  return existsSync(join(packageRoot(), 'TEST_EXIT_AT_START'))
}
