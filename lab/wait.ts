import { type ClusterView, ClusterViewSchema } from '../agent/api/cluster-schema.js'
import { sleep, systemClock } from '../agent/core/clock.js'

/** The launcher's waits hold the process open, as a CLI's must. */
const labClock = systemClock({ keepAlive: true })

/** GET a node's cluster view; null when it does not answer (yet). */
export async function fetchClusterView(baseUrl: string, timeoutMs = 2000): Promise<ClusterView | null> {
  try {
    const res = await fetch(new URL('/api/v1/cluster', baseUrl), { signal: AbortSignal.timeout(timeoutMs) })
    if (!res.ok) return null
    return ClusterViewSchema.parse(await res.json())
  } catch {
    return null
  }
}

export interface WaitOptions {
  timeoutMs: number
  intervalMs?: number
  /** Called between polls with a one-line progress message. */
  progress?: (line: string) => void
}

/** Polls until `check` returns true; the message from the last poll explains a timeout. */
export async function waitFor(check: () => Promise<true | string>, opts: WaitOptions): Promise<void> {
  const deadline = labClock.monoMs() + opts.timeoutMs
  let last = ''
  for (;;) {
    const r = await check()
    if (r === true) return
    if (r !== last) opts.progress?.(r)
    last = r
    if (labClock.monoMs() > deadline)
      throw new Error(`timed out after ${Math.round(opts.timeoutMs / 1000)} s: ${r}`)
    await sleep(labClock, opts.intervalMs ?? 250)
  }
}

/** Does every given node see exactly `expected` alive members, all of the given names? */
export async function meshConverged(
  urls: Map<string, string>,
  expectedAlive: Set<string>,
): Promise<true | string> {
  const lagging: string[] = []
  await Promise.all(
    [...urls].map(async ([name, url]) => {
      const view = await fetchClusterView(url)
      if (!view) return void lagging.push(`${name} (not answering)`)
      const alive = new Set(view.members.filter((m) => m.state === 'alive').map((m) => m.name))
      const missing = [...expectedAlive].filter((n) => !alive.has(n))
      if (missing.length > 0 || alive.size !== expectedAlive.size)
        lagging.push(`${name} sees ${alive.size}/${expectedAlive.size}`)
    }),
  )
  return lagging.length === 0 ? true : `waiting for: ${lagging.sort().join(', ')}`
}
