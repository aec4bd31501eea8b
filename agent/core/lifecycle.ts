import type { Logger } from './log.js'

/** One part of the agent with a start and a stop (the composition root starts a list of them). */
export interface Component {
  name: string
  start(): Promise<void> | void
  stop(): Promise<void> | void
}

export interface Started {
  /** Stops every started component in reverse order; idempotent (a second call waits for the first). */
  stop(): Promise<void>
}

/**
 * Starts components in order. A failed start stops (in reverse) those already started
 * and rethrows, so a half-started agent never keeps sockets, timers or child processes.
 * A failed stop is logged and the rest still stop: one stuck part must not keep the
 * others (etcd, the kubelet) running after the agent is gone.
 */
export async function startInOrder(components: readonly Component[], log: Logger): Promise<Started> {
  const started: Component[] = []
  let stopping: Promise<void> | null = null
  const stop = () => {
    stopping ??= (async () => {
      for (const c of [...started].reverse()) {
        try {
          await c.stop()
        } catch (err) {
          log.warn({ component: c.name, err: (err as Error).message }, 'component did not stop cleanly')
        }
      }
    })()
    return stopping
  }
  for (const c of components) {
    try {
      await c.start()
    } catch (err) {
      log.error(
        { component: c.name, err: (err as Error).message },
        'component did not start: stopping the rest',
      )
      await stop()
      throw err
    }
    started.push(c)
  }
  return { stop }
}
