// hyperswarm and hyperdht ship no type declarations; these cover what we use.
declare module 'hyperdht' {
  import { EventEmitter } from 'node:events'
  export default class HyperDHT extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    static keyPair(seed?: Buffer): { publicKey: Buffer; secretKey: Buffer }
    bootstrapNodes: { host: string; port: number }[]
    ready(): Promise<void>
    address(): { host: string; port: number; family: number } | null
    addNode(node: { host: string; port: number }): void
    connect(publicKey: Buffer, opts?: Record<string, unknown>): EventEmitter
    /** Peers announcing a topic, as the query reaches the nodes closest to it. */
    lookup(
      topic: Buffer,
    ): AsyncIterable<{ peers?: { publicKey: Buffer; relayAddresses?: { host: string; port: number }[] }[] }>
    destroy(opts?: { force?: boolean }): Promise<void>
  }
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  export default class Hyperswarm extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    dht: unknown
    connections: Set<unknown>
    join(
      topic: Buffer,
      opts?: { server?: boolean; client?: boolean },
    ): { refresh(): Promise<void>; destroy(): Promise<void>; flushed(): Promise<void> }
    flush(): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
  }
}
