#!/usr/bin/env node
// The CLI runs from the compiled output; `npm run build` (called by the README's
// commands) produces it. Saying so beats a stack trace from a missing module.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { constants, homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const NODE_MAJOR_MIN = 24
const root = fileURLToPath(new URL('..', import.meta.url))

// An older node on PATH (Debian's, or an end-of-life 20): run under the pinned one that
// scripts/setup.sh fetched, so `node bin/homecloud.js …` behaves the same everywhere.
if (Number(process.versions.node.split('.')[0]) < NODE_MAJOR_MIN) {
  const pinned = readFileSync(join(root, 'scripts', 'node.sh'), 'utf8').match(
    /^HOMECLOUD_NODE_VERSION=(\S+)/m,
  )?.[1]
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  const node = join(cache, 'homecloud', 'node', `v${pinned}-${arch}`, 'bin', 'node')
  if (!pinned || !existsSync(node)) {
    process.stderr.write(
      `homecloud needs Node.js ${NODE_MAJOR_MIN} (this is ${process.version}): run \`bash scripts/setup.sh\` once, which fetches it.\n`,
    )
    process.exit(2)
  }
  standIn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)])
} else {
  const main = join(root, 'dist', 'cli', 'main.js')
  if (!existsSync(main)) {
    process.stderr.write('homecloud is not built yet: run `bash scripts/setup.sh` in the repository first.\n')
    process.exit(2)
  }
  await import(main)
}

/**
 * Runs `program` as a child and stands in for it: a process manager or script that stops
 * this process (SIGTERM, SIGINT, SIGHUP) stops the child too, and this process ends the way
 * the child did (its exit code, or killed by the same signal). SIGKILL cannot be caught or
 * forwarded: killing only this process with it leaves the child running; kill the process
 * group, or start the pinned node directly (`. scripts/node.sh && homecloud_use_node`).
 * A terminal's Ctrl-C reaches both processes and the child then hears it twice: the agent
 * and `lab up` treat a repeated stop signal as the same request.
 */
function standIn(program, args) {
  const child = spawn(program, args, { stdio: 'inherit' })
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP']
  const forward = (signal) => child.kill(signal)
  for (const signal of forwarded) process.on(signal, forward)
  child.on('error', (err) => {
    process.stderr.write(`could not start ${program}: ${err.message}\n`)
    process.exit(2)
  })
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1)
    // Die of the same signal, so whoever waits on this process sees what happened.
    for (const s of forwarded) process.off(s, forward)
    process.kill(process.pid, signal)
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100)
  })
}
