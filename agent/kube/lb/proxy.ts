import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { Clock } from '../../core/clock.js'
import { Controller } from '../../core/controller.js'
import type { Logger } from '../../core/log.js'
import { type Random, systemRandom } from '../../core/random.js'
import { hostPort } from '../../etcd/spec.js'
import { apiserverTlsName } from '../kubeconfig.js'
import { probeReadyz } from './health.js'
import { type BackendHealth, pickBackend } from './pick.js'

// The node's local API load balancer: a plain TCP proxy (TLS passes through untouched,
// so clients authenticate to the API server itself) in front of the API servers that
// answer `/readyz`. Kubelets, kwok and local tools talk to it, so nothing is reconfigured
// when the control plane moves to other boards. Health: a controller with one key probes
// every backend each healthMs; healthAfterProbes (pure) folds the answers in.

export interface LoadBalancerInit {
  host: string
  port: number
  healthMs: number
  /** Per new connection: how long to wait for a backend to accept before trying the next. */
  connectTimeoutMs?: number
  connectionsMax?: number
}

export interface LoadBalancerComponents {
  clock: Clock
  log: Logger
  random?: Random
  /** The API servers to consider now, as host:port (from the current voters). */
  backends(): { host: string; port: number }[]
  caPem(): string | null
}

export interface LoadBalancerStatus {
  address: string
  backends: BackendHealth[]
  connections: number
}

/** Health after a round of probes (pure): only the probed backends are kept; `changed` is what to log. */
export function healthAfterProbes(
  prev: ReadonlyMap<string, boolean>,
  probed: readonly (readonly [string, boolean])[],
): { health: Map<string, boolean>; changed: [string, boolean][] } {
  const health = new Map(probed)
  const changed = probed
    .filter(([id, ok]) => prev.get(id) !== ok)
    .map(([id, ok]): [string, boolean] => [id, ok])
  return { health, changed }
}

export class LoadBalancer {
  private server: Server | null = null
  private readonly probes: Controller
  private health = new Map<string, boolean>()
  private cursor = 0
  private readonly sockets = new Set<Socket>()

  constructor(
    private readonly init: LoadBalancerInit,
    private readonly c: LoadBalancerComponents,
  ) {
    this.probes = new Controller(
      {
        name: 'api-lb-health',
        keys: () => ['backends'],
        resyncMs: init.healthMs,
        // Probing needs the cluster CA (to check the API servers' certificates).
        mayAct: () => c.caPem() !== null,
        sync: () => this.probe(),
      },
      { clock: c.clock, random: c.random ?? systemRandom(), log: c.log },
    )
  }

  get address(): string {
    return hostPort(this.init.host, this.init.port)
  }

  async start(): Promise<void> {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) =>
      this.accept(client),
    )
    server.maxConnections = this.init.connectionsMax ?? 1000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: this.init.host, port: this.init.port }, () => resolve())
    })
    server.on('error', (err) => this.c.log.warn({ err: err.message }, 'load balancer error'))
    this.server = server
    this.probes.start()
    this.c.log.info({ address: this.address }, 'API load balancer listening')
  }

  async stop(): Promise<void> {
    await this.probes.stop()
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = null
  }

  status(): LoadBalancerStatus {
    return { address: this.address, backends: this.current(), connections: this.sockets.size / 2 }
  }

  private current(): BackendHealth[] {
    return this.c.backends().map((b) => {
      const id = hostPort(b.host, b.port)
      return { id, healthy: this.health.get(id) ?? false }
    })
  }

  private async probe(): Promise<void> {
    const caPem = this.c.caPem()
    if (!caPem) return
    const results = await Promise.all(
      this.c.backends().map(async (b) => {
        const ok = await probeReadyz({
          host: b.host,
          port: b.port,
          caPem,
          servername: apiserverTlsName,
          timeoutMs: Math.max(200, this.init.healthMs - 100),
        })
        return [hostPort(b.host, b.port), ok] as const
      }),
    )
    const next = healthAfterProbes(this.health, results)
    // A connection that failed meanwhile marked its backend down: the probe's word is newer.
    this.health = next.health
    for (const [id, ok] of next.changed)
      this.c.log.info({ backend: id, healthy: ok }, 'API server health changed')
  }

  private accept(client: Socket): void {
    this.track(client)
    client.on('error', () => client.destroy())
    this.connect(client, new Set())
  }

  private connect(client: Socket, tried: Set<string>): void {
    if (client.destroyed) return
    const id = pickBackend(this.current(), this.cursor++, tried)
    if (!id) {
      client.destroy()
      return
    }
    tried.add(id)
    const [host, port] = splitHostPort(id)
    const upstream = createConnection({ host, port, allowHalfOpen: true })
    let connected = false
    const timeout = this.c.clock.setTimeout(
      () => upstream.destroy(new Error('connect timeout')),
      this.init.connectTimeoutMs ?? 1000,
    )
    upstream.once('connect', () => {
      connected = true
      timeout.cancel()
      this.track(upstream)
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
      client.once('close', () => upstream.destroy())
      upstream.once('close', () => client.destroy())
    })
    upstream.on('error', (err) => {
      timeout.cancel()
      if (connected) {
        client.destroy()
        return
      }
      // Nothing was sent yet: the connection can still go to another API server.
      this.health.set(id, false)
      this.c.log.debug({ backend: id, err: err.message }, 'API server refused a connection; trying the next')
      upstream.destroy()
      this.connect(client, tried)
    })
  }

  private track(s: Socket): void {
    this.sockets.add(s)
    s.once('close', () => this.sockets.delete(s))
  }
}

function splitHostPort(id: string): [string, number] {
  const i = id.lastIndexOf(':')
  return [id.slice(0, i).replace(/^\[|\]$/g, ''), Number(id.slice(i + 1))]
}
