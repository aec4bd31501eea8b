import cookie from '@fastify/cookie'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Clock } from '../../core/clock.js'
import type { Counters } from '../../core/counters.js'
import type { Logger } from '../../core/log.js'
import { verifyPassword } from '../../core/password.js'
import { loginPage } from './login-page.js'
import { type RecoveryActions, registerRecoverPage } from './recover-page.js'
import { type Session, Sessions } from './sessions.js'

export interface AuthDeps {
  log: Logger
  counters: Counters
  clock: Clock
  /** The scrypt hash from the cluster settings; undefined means no password was set. */
  passwordHash: () => string | undefined
  /** 'not-signer' when this node cannot sign; null when no such pending node. */
  approve: (node: string) => { id: string; name: string } | 'not-signer' | null
  /** Where to send the user when this node cannot approve (a signer's page). */
  signerUrl: () => string | null
  /** Served over HTTPS: the session cookie is marked Secure. */
  secure?: boolean
  /** Recovery from a snapshot (recover-page.ts); null on a node without a control plane. */
  recovery?: () => RecoveryActions | null
}

export const SESSION_COOKIE = 'hc_session'
export const SESSION_TTL_MS = 8 * 3600_000
/** Per source address and minute (@fastify/rate-limit, in memory, bounded by its LRU). */
export const LOGIN_ATTEMPTS_PER_MINUTE_MAX = 10
const ATTEMPT_SOURCES_MAX = 1024

const LoginBody = z.object({ password: z.string().min(1).max(1024) })
const ActionBody = z.object({ node: z.string().min(1).max(64), csrf: z.string().min(1).max(128) })
const LogoutBody = z.object({ csrf: z.string().min(1).max(128) })

/** Cookie parsing for every route of `app` (the session gate reads it in its own hook). */
export function registerCookies(app: FastifyInstance): void {
  void app.register(cookie, { hook: 'onRequest' })
}

/**
 * Login and actions on the HTTPS status page. Reading stays open (unless the config
 * says otherwise); every action needs a session (password) and the session's CSRF
 * token. The admin certificate path for the same actions is the mutual-TLS API on 7443.
 * Needs registerCookies(app) first.
 */
export function registerAuthRoutes(
  app: FastifyInstance,
  deps: AuthDeps,
): { sessionOf(req: FastifyRequest): Session | undefined } {
  const sessions = new Sessions(deps.clock, SESSION_TTL_MS)
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    },
  )
  const sessionOf = (req: FastifyRequest) => sessions.get(req.cookies?.[SESSION_COOKIE])
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: deps.secure === true,
  } as const
  const routes = { ...deps, sessions, sessionOf, cookieOptions }
  // A scope of its own, so the rate limiter (loaded before its routes) covers login only.
  void app.register(async (scope) => {
    await scope.register(rateLimit, { global: false, cache: ATTEMPT_SOURCES_MAX })
    loginRoutes(scope, routes)
  })
  app.post('/logout', async (req, reply) => {
    const s = sessionOf(req)
    const body = LogoutBody.safeParse(req.body)
    if (s && body.success && sessions.csrfMatches(s, body.data.csrf)) sessions.end(s.id)
    reply.clearCookie(SESSION_COOKIE, cookieOptions)
    return reply.code(303).header('location', '/').send()
  })
  app.post('/actions/approve', async (req, reply) => approveRoute(req, reply, routes))
  registerRecoverPage(app, {
    ...deps,
    recovery: deps.recovery ?? (() => null),
    sessionOf,
    csrfMatches: (s, t) => sessions.csrfMatches(s, t),
  })
  return { sessionOf }
}

type RouteDeps = AuthDeps & {
  sessions: Sessions
  sessionOf(req: FastifyRequest): Session | undefined
  cookieOptions: { httpOnly: true; sameSite: 'strict'; path: '/'; secure: boolean }
}

function loginRoutes(scope: FastifyInstance, deps: RouteDeps): void {
  const html = (reply: FastifyReply, code: number, message: string | null) =>
    reply.code(code).type('text/html; charset=utf-8').send(loginPage(message))
  scope.setErrorHandler(async (err: { statusCode?: number; message: string }, _req, reply) => {
    if (err.statusCode !== 429) throw err
    return html(reply, 429, 'Too many attempts: wait a minute.')
  })
  scope.get('/login', async (_req, reply) => html(reply, 200, null))
  const limit = {
    max: LOGIN_ATTEMPTS_PER_MINUTE_MAX,
    timeWindow: 60_000,
    onExceeded: () => deps.counters.inc('homecloud_http_rejected_total', { reason: 'login-rate' }),
  }
  scope.post('/login', { config: { rateLimit: limit } }, async (req, reply) => {
    const hash = deps.passwordHash()
    if (!hash)
      return html(
        reply,
        403,
        'No password is set for this cluster: use the admin certificate (homecloud approve).',
      )
    const body = LoginBody.safeParse(req.body)
    if (!body.success || !(await verifyPassword(body.data.password, hash))) {
      deps.counters.inc('homecloud_logins_total', { result: 'refused' })
      deps.log.warn({ from: req.ip }, 'status page login refused')
      return html(reply, 401, 'Wrong password.')
    }
    const s = deps.sessions.create()
    deps.counters.inc('homecloud_logins_total', { result: 'ok' })
    reply.setCookie(SESSION_COOKIE, s.id, { ...deps.cookieOptions, maxAge: SESSION_TTL_MS / 1000 })
    return reply.code(303).header('location', '/').send()
  })
}

async function approveRoute(req: FastifyRequest, reply: FastifyReply, deps: RouteDeps) {
  const bad = (code: number, error: string, message: string) => {
    deps.counters.inc('homecloud_http_rejected_total', { reason: error.toLowerCase() })
    return reply.code(code).send({ error, message })
  }
  const s = deps.sessionOf(req)
  if (!s)
    return bad(
      401,
      'UNAUTHENTICATED',
      'log in first (/login), or use `homecloud approve` with the admin certificate',
    )
  const body = ActionBody.safeParse(req.body)
  if (!body.success) {
    const issue = body.error.issues[0]
    return bad(400, 'BAD_REQUEST', `${issue?.path.join('.') || 'body'}: ${issue?.message}`)
  }
  if (!deps.sessions.csrfMatches(s, body.data.csrf))
    return bad(403, 'CSRF', 'the form token does not match this session: reload the page')
  const r = deps.approve(body.data.node)
  if (r === 'not-signer') {
    const url = deps.signerUrl()
    return bad(409, 'NOT_SIGNER', `this node cannot sign certificates${url ? `: approve on ${url}` : ''}`)
  }
  if (!r) return bad(404, 'NODE_UNKNOWN', `no pending node "${body.data.node}"`)
  deps.log.info({ node: r.id, name: r.name, by: 'status page' }, 'join approved')
  if ((req.headers.accept ?? '').includes('application/json')) return { approved: r }
  return reply.code(303).header('location', '/').send()
}
