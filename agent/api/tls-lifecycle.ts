import type { FastifyInstance } from 'fastify'
import type { Logger } from '../core/log.js'
import { buildTlsApi, type TlsApiDeps } from './tls-server.js'

export interface TlsApiHandle {
  /** Start on the first certificate; on a renewal swap it in without a restart. */
  update(material: { certPem: string; keyPem: string; caPem: string }): Promise<void>
  close(): Promise<void>
}

/** The 7443 listener follows the node's certificate: none while joining, reloaded on renewal. */
export function startTlsApi(init: {
  host: string
  port: number
  log: Logger
  deps: TlsApiDeps
}): TlsApiHandle {
  let app: FastifyInstance | null = null
  let starting: Promise<void> | null = null
  return {
    async update(material) {
      if (app) {
        const server = app.server as unknown as { setSecureContext(o: object): void }
        server.setSecureContext({ key: material.keyPem, cert: material.certPem, ca: material.caPem })
        init.log.info('agent TLS API reloaded its certificate')
        return
      }
      if (starting) return starting
      starting = (async () => {
        const a = buildTlsApi(init.deps, material)
        await a.listen({ host: init.host, port: init.port })
        app = a
        init.log.info({ url: `https://${init.host}:${init.port}/` }, 'agent TLS API listening (mutual TLS)')
      })()
      return starting
    },
    async close() {
      await starting?.catch(() => {})
      await app?.close().catch(() => {})
    },
  }
}
