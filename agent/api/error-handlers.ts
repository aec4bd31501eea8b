import type { FastifyInstance } from 'fastify'
import type { Logger } from '../core/log.js'

/**
 * The same answers for both servers (7080 and 7443): JSON 404s, client errors passed
 * through with their message, and server errors logged but never detailed to the caller.
 */
export function installErrorHandlers(app: FastifyInstance, log: Logger, what: string): void {
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ error: 'NOT_FOUND' }))
  app.setErrorHandler(async (err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    if (status === 500) log.error({ err: err.message }, `${what} handler failed`)
    return reply
      .code(status)
      .send({ error: err.code ?? 'ERROR', message: status === 500 ? 'internal error' : err.message })
  })
}
