import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import pino, { type Logger } from 'pino'
import { waitFor } from '../../lab/wait.js'

// For tests of a process wrapper without the real program: a shell script takes its
// place (and gets the real arguments), and a logger keeps what reaches the agent log.

/** Writes an executable `#!/bin/sh` script named `name` in `dir`; returns its path. */
export async function standInBinary(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, `#!/bin/sh\n${body}`)
  await chmod(path, 0o755)
  return path
}

/** A logger whose entries land, parsed, in `lines`. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino({ level }, { write: (s: string) => lines.push(JSON.parse(s)) })
  return { logger, lines }
}

/** Makes fresh temp directories (prefix `hc-<name>-`), all removed after the test file. */
export function tempDirs(name: string): () => Promise<string> {
  const dirs: string[] = []
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), `hc-${name}-`))
    dirs.push(dir)
    return dir
  }
}

/** Polls a local condition (every 50 ms, 10 s at most). */
export function until(cond: () => boolean, what: string): Promise<void> {
  return waitFor(async () => cond() || what, { timeoutMs: 10_000, intervalMs: 50 })
}
