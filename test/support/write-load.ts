import type { EtcdClient } from '../../agent/etcd/client.js'
import { clientUrlOf } from '../../agent/etcd/spec.js'

// A continuous write load through etcd for the no-lost-writes checks: one loop per
// client, each write a new key, and only the keys etcd acknowledged are recorded.

export interface WriteLoad {
  /** Keys etcd acknowledged, in order. */
  acked: string[]
  /** Writes refused or timed out (retried with a new key after `retryMs`). */
  failed(): number
  stop(): Promise<void>
}

export function startWriteLoad(
  clients: readonly { put(key: string, value: string): Promise<unknown> }[],
  prefix: string,
  retryMs = 50,
): WriteLoad {
  const acked: string[] = []
  let failed = 0
  let seq = 0
  let running = true
  const loops = clients.map(async (client, w) => {
    while (running) {
      const key = `${prefix}${w}-${String(seq++).padStart(6, '0')}`
      try {
        await client.put(key, `v${seq}`)
        acked.push(key)
      } catch {
        failed++
        await new Promise((r) => setTimeout(r, retryMs))
      }
    }
  })
  let stopped: Promise<void> | undefined
  return {
    acked,
    failed: () => failed,
    stop() {
      running = false
      stopped ??= Promise.all(loops).then(() => {})
      return stopped
    },
  }
}

/**
 * How many of the acknowledged keys one voter lacks, read from that voter alone
 * (`serializable`: its own copy, without asking the leader).
 */
export async function missingOn(
  client: Pick<EtcdClient, 'getPrefix'>,
  address: string,
  prefix: string,
  acked: ReadonlySet<string>,
  opts: { serializable?: boolean } = {},
): Promise<number> {
  const kvs = await client.getPrefix(prefix, {
    endpoint: clientUrlOf(address),
    keysOnly: true,
    ...(opts.serializable ? { serializable: true } : {}),
  })
  const have = new Set(kvs.map((kv) => kv.key))
  return [...acked].filter((k) => !have.has(k)).length
}
