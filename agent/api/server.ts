import Fastify, { type FastifyInstance } from 'fastify'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import type { ClusterView } from './cluster-schema.js'
import { renderMetrics } from './metrics.js'
import { renderStatusPage } from './status-page.js'

export interface ApiDeps {
  log: Logger
  counters: Counters
  clusterView: () => ClusterView
  /** Mesh internals for debugging and for the test that proves our bootstrap list. */
  meshInfo: () => {
    dhtAddress: string | null
    bootstrapNodes: string[]
    connections: number
    incarnation: number
  }
  ready: () => boolean
}

const URL_BYTES_MAX = 2048

/** The read-only HTTP API and status page on port 7080; built by a factory so tests can inject(). */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, maxParamLength: 200 })
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.length > URL_BYTES_MAX) {
      deps.counters.inc('homecloud_http_rejected_total', { reason: 'url-too-long' })
      return reply
        .code(414)
        .send({ error: 'URI_TOO_LONG', message: `URL longer than ${URL_BYTES_MAX} bytes` })
    }
  })
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('x-frame-options', 'DENY')
    reply.header('referrer-policy', 'no-referrer')
    reply.header(
      'content-security-policy',
      "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'",
    )
    return payload
  })
  app.get('/healthz', async () => ({ ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const ok = deps.ready()
    return reply.code(ok ? 200 : 503).send({ ok })
  })
  app.get('/api/v1/cluster', async () => deps.clusterView())
  app.get('/api/v1/mesh', async () => deps.meshInfo())
  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4')
    return renderMetrics(deps.clusterView(), deps.counters)
  })
  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8')
    return renderStatusPage(deps.clusterView())
  })
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ error: 'NOT_FOUND' }))
  app.setErrorHandler(async (err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) deps.log.error({ err: err.message }, 'api handler failed')
    return reply
      .code(status)
      .send({ error: err.code ?? 'ERROR', message: status === 500 ? 'internal error' : err.message })
  })
  return app
}
