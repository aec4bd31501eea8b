// Which API server a new connection goes to (pure). Healthy backends in turn (a cursor
// spreads connections); when none is known healthy — the first second after start, or
// every check failing at once — the others are still tried rather than refusing outright.
// `tried` holds backends this connection already failed to reach.

export interface BackendHealth {
  /** host:port */
  id: string
  healthy: boolean
}

export function pickBackend(
  backends: readonly BackendHealth[],
  cursor: number,
  tried: ReadonlySet<string> = new Set(),
): string | null {
  const untried = backends.filter((b) => !tried.has(b.id))
  const healthy = untried.filter((b) => b.healthy)
  const pool = healthy.length > 0 ? healthy : untried
  if (pool.length === 0) return null
  const i = ((cursor % pool.length) + pool.length) % pool.length
  return pool[i]!.id
}
