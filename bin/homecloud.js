#!/usr/bin/env node
// The CLI runs from the compiled output; `npm run build` (called by the README's
// commands) produces it. Saying so beats a stack trace from a missing module.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
if (!existsSync(main)) {
  process.stderr.write('homecloud is not built yet: run `npm ci && npm run build` in the repository first.\n')
  process.exit(2)
}
await import(main)
