import type { FastifyInstance } from 'fastify'
import type { Logger } from '../core/log.js'
import { type ApiDeps, buildApiServer } from './server.js'

// The status page on two listeners: plain HTTP (7080) for reading, and HTTPS (7444)
// with the node's agent certificate (its names and addresses, from the cluster CA) for
// reading, logging in and acting. A separate port rather than the mutual-TLS API's 7443
// with optional client certificates: a listener that asks for a client certificate
// makes some browsers prompt for one, and keeping the two apart keeps the agent API's
// rule simple (every request there carries a certificate).

export interface StatusServersInit {
  host: string
  httpPort: number
  httpsPort: number
  /** Names this node answers to (its name and addresses): the HTTPS link keeps the one the reader used. */
  names: readonly string[]
  log: Logger
}

export type StatusDeps = Omit<ApiDeps, 'tls' | 'httpsUrl'>

export interface StatusServers {
  /** The plain-HTTP listener, for extra routes (netboot) and tests. */
  readonly http: FastifyInstance
  listen(): Promise<void>
  /** Start the HTTPS page on the first certificate; swap it in on a renewal. */
  update(material: { certPem: string; keyPem: string }): Promise<void>
  close(): Promise<void>
}

/** "https://NAME:7444/" for the host the reader typed, if this node answers to it. */
export function httpsUrlFor(
  hostHeader: string | undefined,
  init: Pick<StatusServersInit, 'host' | 'httpsPort' | 'names'>,
): string {
  let host = init.host
  try {
    const asked = new URL(`http://${hostHeader ?? ''}`).hostname
    const bare = asked.startsWith('[') ? asked.slice(1, -1) : asked
    if (init.names.includes(bare)) host = bare
  } catch {}
  const shown = host.includes(':') ? `[${host}]` : host
  return `https://${shown}:${init.httpsPort}/`
}

export function startStatusServers(init: StatusServersInit, deps: StatusDeps): StatusServers {
  let https: FastifyInstance | null = null
  let starting: Promise<void> | null = null
  const httpsUrl = (hostHeader: string | undefined) => (https ? httpsUrlFor(hostHeader, init) : null)
  const http = buildApiServer({ ...deps, httpsUrl })
  return {
    http,
    async listen() {
      await http.listen({ host: init.host, port: init.httpPort })
      init.log.info({ url: `http://${init.host}:${init.httpPort}/` }, 'status page and API listening')
    },
    async update(material) {
      if (https) {
        const server = https.server as unknown as { setSecureContext(o: object): void }
        server.setSecureContext({ key: material.keyPem, cert: material.certPem })
        init.log.info('HTTPS status page reloaded its certificate')
        return
      }
      starting ??= (async () => {
        // No netboot routes here: machines netboot over plain HTTP.
        const app = buildApiServer({ ...deps, register: undefined, tls: material, httpsUrl })
        try {
          await app.listen({ host: init.host, port: init.httpsPort })
        } catch (err) {
          // Reading still works over HTTP; the next certificate (renewal) tries again.
          init.log.error(
            { err: (err as Error).message, port: init.httpsPort },
            'HTTPS status page did not start',
          )
          starting = null
          return
        }
        https = app
        init.log.info({ url: httpsUrlFor(undefined, init) }, 'HTTPS status page listening')
      })()
      return starting
    },
    async close() {
      await starting?.catch(() => {})
      await Promise.all([http.close().catch(() => {}), https?.close().catch(() => {})])
    },
  }
}
