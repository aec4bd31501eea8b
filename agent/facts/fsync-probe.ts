import { randomBytes } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type Clock, systemClock } from '../core/clock.js'
import { assert } from '../core/errors.js'
import { percentile } from './percentile.js'
import type { FsyncProbe } from './schema.js'

export interface FsyncProbeOptions {
  /** How many write+fdatasync rounds to time. */
  samples?: number
  /** Bytes written per round (etcd WAL entries are small). */
  bytes?: number
  clock?: Pick<Clock, 'monoMs'>
}

export const fsyncSamplesMax = 1000
export const fsyncBytesMax = 1 << 20

/**
 * Times appending a small block and fdatasync-ing it, the way etcd's WAL does.
 * etcd wants the p99 under ~10 ms; SD cards usually miss it by a wide margin.
 */
export async function probeFsync(dir: string, opts: FsyncProbeOptions = {}): Promise<FsyncProbe> {
  const samples = opts.samples ?? 20
  const bytes = opts.bytes ?? 4096
  const clock = opts.clock ?? systemClock()
  assert(Number.isInteger(samples) && samples >= 1 && samples <= fsyncSamplesMax, `samples ${samples}`)
  assert(Number.isInteger(bytes) && bytes >= 1 && bytes <= fsyncBytesMax, `bytes ${bytes}`)

  const path = join(dir, `.homecloud-fsync-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
  const block = randomBytes(bytes)
  const times: number[] = []
  try {
    const file = await open(path, 'wx')
    try {
      for (let i = 0; i < samples; i++) {
        const start = clock.monoMs()
        await file.write(block, 0, bytes, i * bytes)
        await file.datasync()
        times.push(clock.monoMs() - start)
      }
    } finally {
      await file.close()
    }
  } finally {
    await rm(path, { force: true })
  }
  return { path: dir, samples, p50Ms: roundMs(percentile(times, 50)), p99Ms: roundMs(percentile(times, 99)) }
}

function roundMs(ms: number): number {
  return Math.max(0, Math.round(ms * 1000) / 1000)
}
