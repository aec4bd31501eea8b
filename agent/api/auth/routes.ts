import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Clock } from '../../core/clock.js'
import type { Counters } from '../../core/counters.js'
import type { Logger } from '../../core/log.js'
import { escapeHtml } from '../page/to-html.js'
import { verifyPassword } from './password.js'
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
}

export const SESSION_COOKIE = 'hc_session'
const LOGIN_ATTEMPTS_PER_MINUTE_MAX = 10
const ATTEMPT_SOURCES_MAX = 1024

const LoginBody = z.object({ password: z.string().min(1).max(1024) })
const ActionBody = z.object({ node: z.string().min(1).max(64), csrf: z.string().min(1).max(128) })
const LogoutBody = z.object({ csrf: z.string().min(1).max(128) })

function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}

function loginPage(message: string | null): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml"><title>homecloud: log in</title><style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
input,button{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}.error{color:#b00}</style></head><body>
<h1>Log in</h1><p>Actions (approve, and later drain) need the cluster password set at <code>homecloud init</code>.</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/login"><label>Password <input type="password" name="password" autocomplete="current-password" autofocus required></label>
<button type="submit">Log in</button></form><p><a href="/">Back to the status page</a></p></body></html>`
}

/**
 * Login and actions on the open status page (7080). Reading stays open; every action
 * needs a session (password) and the session's CSRF token. The admin certificate path
 * for the same actions is the mutual-TLS API on 7443.
 */
export function registerAuthRoutes(
  app: FastifyInstance,
  deps: AuthDeps,
): { sessionOf(req: FastifyRequest): Session | undefined } {
  const sessions = new Sessions(deps.clock)
  const attempts = new Map<string, { windowStartMs: number; count: number }>()
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    },
  )
  const sessionOf = (req: FastifyRequest) => sessions.get(cookie(req, SESSION_COOKIE))
  const bad = (reply: FastifyReply, code: number, error: string, message: string) => {
    deps.counters.inc('homecloud_http_rejected_total', { reason: error.toLowerCase() })
    return reply.code(code).send({ error, message })
  }

  app.get('/login', async (_req, reply) => reply.type('text/html; charset=utf-8').send(loginPage(null)))
  app.post('/login', async (req, reply) => {
    const now = deps.clock.nowMs()
    const source = req.ip
    const a = attempts.get(source)
    if (a && now - a.windowStartMs < 60_000 && a.count >= LOGIN_ATTEMPTS_PER_MINUTE_MAX) {
      return reply
        .code(429)
        .type('text/html; charset=utf-8')
        .send(loginPage('Too many attempts: wait a minute.'))
    }
    if (!a || now - a.windowStartMs >= 60_000) {
      if (attempts.size >= ATTEMPT_SOURCES_MAX) attempts.clear()
      attempts.set(source, { windowStartMs: now, count: 1 })
    } else a.count++
    const body = LoginBody.safeParse(req.body)
    const hash = deps.passwordHash()
    if (!hash)
      return reply
        .code(403)
        .type('text/html; charset=utf-8')
        .send(
          loginPage('No password is set for this cluster: use the admin certificate (homecloud approve).'),
        )
    if (!body.success || !(await verifyPassword(body.data.password, hash))) {
      deps.counters.inc('homecloud_logins_total', { result: 'refused' })
      deps.log.warn({ from: source }, 'status page login refused')
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('Wrong password.'))
    }
    const s = sessions.create()
    deps.counters.inc('homecloud_logins_total', { result: 'ok' })
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${s.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${8 * 3600}`,
    )
    return reply.code(303).header('location', '/').send()
  })
  app.post('/logout', async (req, reply) => {
    const s = sessionOf(req)
    const body = LogoutBody.safeParse(req.body)
    if (s && body.success && sessions.csrfMatches(s, body.data.csrf)) sessions.end(s.id)
    reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
    return reply.code(303).header('location', '/').send()
  })
  app.post('/actions/approve', async (req, reply) => {
    const s = sessionOf(req)
    if (!s)
      return bad(
        reply,
        401,
        'UNAUTHENTICATED',
        'log in first (/login), or use `homecloud approve` with the admin certificate',
      )
    const body = ActionBody.safeParse(req.body)
    if (!body.success) {
      const issue = body.error.issues[0]
      return bad(reply, 400, 'BAD_REQUEST', `${issue?.path.join('.') || 'body'}: ${issue?.message}`)
    }
    if (!sessions.csrfMatches(s, body.data.csrf))
      return bad(reply, 403, 'CSRF', 'the form token does not match this session: reload the page')
    const r = deps.approve(body.data.node)
    if (r === 'not-signer') {
      const url = deps.signerUrl()
      return bad(
        reply,
        409,
        'NOT_SIGNER',
        `this node cannot sign certificates${url ? `: approve on ${url}` : ''}`,
      )
    }
    if (!r) return bad(reply, 404, 'NODE_UNKNOWN', `no pending node "${body.data.node}"`)
    deps.log.info({ node: r.id, name: r.name, by: 'status page' }, 'join approved')
    if ((req.headers.accept ?? '').includes('application/json')) return { approved: r }
    return reply.code(303).header('location', '/').send()
  })
  return { sessionOf }
}
