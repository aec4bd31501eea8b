import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Counters } from '../core/counters.js'
import { escapeHtml } from './page/to-html.js'

// The status page on plain HTTP (7080) is for reading. The password and the session
// would cross the LAN in clear there, so logging in and every action live on the
// HTTPS page only, and a password sent here is refused before its body is read.

/** POSTs that carry a password, a session or a CSRF token. */
export function isActionPath(path: string): boolean {
  return path === '/login' || path === '/logout' || path.startsWith('/actions/')
}

export interface PlainHttpDeps {
  counters: Counters
  /** This node's HTTPS status page for the host the reader used; null while it has no certificate. */
  httpsUrl(hostHeader: string | undefined): string | null
}

function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/html')
}

function httpsPage(url: string | null, message: string): string {
  const next = url
    ? `<p><a href="${escapeHtml(new URL('/login', url).href)}">Log in over HTTPS</a> · <a href="/ca">Trust the cluster CA first</a></p>`
    : '<p>This node has no certificate yet (it is still joining): try another node.</p>'
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>homecloud: use HTTPS</title></head><body><main><h1>Use the HTTPS page</h1><p>${escapeHtml(message)}</p>${next}<p><a href="/">Back to the status page</a></p></main></body></html>`
}

/** Refuses passwords and actions over plain HTTP and points at the HTTPS page. */
export function installPlainHttpGuards(app: FastifyInstance, deps: PlainHttpDeps): void {
  // onRequest runs before the body is read: a password sent here is never parsed.
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!
    if (req.method !== 'POST' || !isActionPath(path)) return
    deps.counters.inc('homecloud_http_rejected_total', { reason: 'plain-http' })
    const url = deps.httpsUrl(req.headers.host)
    const message =
      'Passwords and actions are refused over plain HTTP, where anyone on the network could read them. Nothing was done.'
    reply.code(403).header('connection', 'close').header('cache-control', 'no-store')
    if (wantsHtml(req)) return reply.type('text/html; charset=utf-8').send(httpsPage(url, message))
    return reply.send({ error: 'PLAIN_HTTP_REFUSED', message, ...(url ? { https: url } : {}) })
  })
  app.get('/login', async (req, reply) => loginRedirect(req, reply, deps))
}

function loginRedirect(req: FastifyRequest, reply: FastifyReply, deps: PlainHttpDeps) {
  const url = deps.httpsUrl(req.headers.host)
  reply.header('cache-control', 'no-store')
  if (url) return reply.code(303).header('location', new URL('/login', url).href).send()
  return reply
    .code(503)
    .type('text/html; charset=utf-8')
    .send(httpsPage(null, 'Logging in needs the HTTPS page.'))
}
