#!/usr/bin/env node
// The CLI runs from the compiled output; `npm run build` (called by the README's
// commands) produces it. Saying so beats a stack trace from a missing module.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
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
  const r = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const main = join(root, 'dist', 'cli', 'main.js')
if (!existsSync(main)) {
  process.stderr.write('homecloud is not built yet: run `bash scripts/setup.sh` in the repository first.\n')
  process.exit(2)
}
await import(main)
