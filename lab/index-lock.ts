import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../agent/core/clock.js'
import { HomecloudError } from '../agent/core/errors.js'
import { labFilePath } from './lab-file.js'

const LOCK_ROOT = join(tmpdir(), 'homecloud-labs')

/**
 * Several labs (and parallel test files) share one machine: each claims an index,
 * which fixes its address block and namespace names. A claim is a directory made
 * atomically; a claim whose lab directory is gone is stale and taken over.
 */
export async function claimLabIndex(
  labDir: string,
  probeHost: (index: number) => string,
  first = 1,
): Promise<number> {
  await mkdir(LOCK_ROOT, { recursive: true })
  for (let index = first; index <= 200; index++) {
    const lock = join(LOCK_ROOT, String(index))
    try {
      await mkdir(lock)
    } catch {
      const owner = await readFile(join(lock, 'owner'), 'utf8').catch(() => '')
      if (owner && existsSync(labFilePath(owner))) continue
      if (!owner && systemClock().nowMs() - (await lockAge(lock)) < 10_000) continue // being created right now
      await rm(lock, { recursive: true, force: true })
      try {
        await mkdir(lock)
      } catch {
        continue
      }
    }
    if (!(await portFree(probeHost(index), 7080))) {
      await rm(lock, { recursive: true, force: true })
      continue
    }
    await writeFile(join(lock, 'owner'), labDir)
    return index
  }
  throw new HomecloudError(
    'LAB_INVALID',
    'no free lab index (1-200)',
    'stop old labs with `homecloud lab down --dir DIR`',
  )
}

/** Whether another lab directory holds this index now (then its network is not ours to remove). */
export async function labIndexHeldByOther(index: number, labDir: string): Promise<boolean> {
  const owner = await readFile(join(join(LOCK_ROOT, String(index)), 'owner'), 'utf8').catch(() => '')
  return owner !== '' && owner !== labDir && existsSync(labFilePath(owner))
}

export async function releaseLabIndex(index: number, labDir: string): Promise<void> {
  const lock = join(LOCK_ROOT, String(index))
  const owner = await readFile(join(lock, 'owner'), 'utf8').catch(() => '')
  if (owner === labDir) await rm(lock, { recursive: true, force: true })
}

async function lockAge(lock: string): Promise<number> {
  const { stat } = await import('node:fs/promises')
  return (await stat(lock).catch(() => ({ mtimeMs: 0 }))).mtimeMs
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRNOTAVAIL'))
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}
