import Fastify, { type FastifyInstance } from 'fastify'
import { type Clock, systemClock } from '../core/clock.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { tlsMinVersion } from '../pki/tls.js'
import { type AuthDeps, registerAuthRoutes, registerCookies } from './auth/routes.js'
import { CA_FILE_PATH, CA_PAGE_PATH, registerCaRoutes } from './ca-routes.js'
import type { ClusterView } from './cluster-schema.js'
import { installErrorHandlers } from './error-handlers.js'
import { renderMetrics } from './metrics.js'
import { PageAssets } from './page/assets.js'
import { ICON_SVG } from './page/icon.js'
import { LOGIN_PATH } from './page/pending.js'
import { installPlainHttpGuards } from './plain-http.js'
import { DEFAULT_SSE_LIMITS, SseHub, type SseLimits } from './sse.js'
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
    /** Lifeguard's local health score and the event-loop lag behind it (ms). */
    health?: { score: number; lagMs: number }
  }
  ready: () => boolean
  /** Time for the status page and live updates; the system clock when left out. */
  clock?: Clock
  /** Where the compiled browser modules live (tests); next to this file's build when left out. */
  assetsDir?: string
  sseLimits?: Partial<SseLimits>
  /** Login and actions (HTTPS only); without it the page is read-only. */
  auth?: Omit<AuthDeps, 'log' | 'counters' | 'clock' | 'secure'>
  /**
   * Serve over HTTPS with this certificate (the node's agent certificate: its names and
   * addresses, from the cluster CA). Without it: plain HTTP, where logging in and
   * every action are refused and point at `httpsUrl`.
   */
  tls?: { keyPem: string; certPem: string }
  /** This node's HTTPS page for the host name the reader used; null while it has no certificate. */
  httpsUrl?: (hostHeader: string | undefined) => string | null
  /** The cluster CA, offered at /ca and /ca.crt so browsers can come to trust the HTTPS page. */
  caPem?: () => string | null
  /** Reading needs a session too (config `statusPage.requireLogin`); without `auth` nothing but the open paths answers. */
  requireLogin?: boolean
  /** Extra routes on this server (netboot). */
  register?: (app: FastifyInstance) => void
}

/** Reachable without a session even when reading needs a login. */
export function isOpenPath(path: string): boolean {
  return (
    path === '/login' ||
    path === '/logout' ||
    path === '/healthz' ||
    path === CA_PAGE_PATH ||
    path === CA_FILE_PATH ||
    path === '/readyz' ||
    // Machines netbooting cannot log in; these routes guard themselves (agent/netboot/routes.ts).
    path.startsWith('/netboot/') ||
    path.startsWith('/assets/')
  )
}

const URL_BYTES_MAX = 2048

/** On every response, including the live-event stream (which bypasses fastify's hooks). */
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
})

type Session = ReturnType<typeof registerAuthRoutes>

/** URLs over 2 KiB, and (config `requireLogin`) reading without a session, are refused first. */
function installGate(
  app: FastifyInstance,
  deps: ApiDeps,
  ctx: { secure: boolean; httpsUrl: (host: string | undefined) => string | null; auth: () => Session | null },
): void {
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.length > URL_BYTES_MAX) {
      deps.counters.inc('homecloud_http_rejected_total', { reason: 'url-too-long' })
      return reply
        .code(414)
        .send({ error: 'URI_TOO_LONG', message: `URL longer than ${URL_BYTES_MAX} bytes` })
    }
    if (!deps.requireLogin || isOpenPath(req.url.split('?')[0]!) || ctx.auth()?.sessionOf(req)) return
    deps.counters.inc('homecloud_http_rejected_total', { reason: 'login-required' })
    const login = ctx.secure
      ? LOGIN_PATH
      : new URL(LOGIN_PATH, ctx.httpsUrl(req.headers.host) ?? 'https://invalid/').href
    if ((req.headers.accept ?? '').includes('text/html'))
      return reply.code(303).header('location', login).header('cache-control', 'no-store').send()
    return reply.code(401).send({
      error: 'UNAUTHENTICATED',
      message: `this cluster requires a login to read: log in at ${login}`,
    })
  })
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS)
    return payload
  })
}

function registerReadRoutes(app: FastifyInstance, deps: ApiDeps): void {
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
}

/** The browser script's modules and the icon; nothing else is served from disk. */
function registerAssetRoutes(app: FastifyInstance, assets: PageAssets): void {
  app.get('/assets/icon.svg', async (_req, reply) => {
    reply.type('image/svg+xml').header('cache-control', 'max-age=86400')
    return ICON_SVG
  })
  app.get('/assets/:name', async (req, reply) => {
    const asset = assets.get((req.params as { name: string }).name)
    if (!asset) return reply.code(404).send({ error: 'NOT_FOUND' })
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag)
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send()
    return asset.body
  })
}

function registerEventStream(app: FastifyInstance, hub: SseHub, counters: Counters): void {
  // Open event streams would keep close() waiting forever.
  app.addHook('preClose', async () => hub.closeAll())
  app.get('/api/v1/events', async (req, reply) => {
    const headers = {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    }
    if (req.method === 'HEAD') return reply.headers(headers).send()
    if (hub.full) {
      counters.inc('homecloud_http_rejected_total', { reason: 'too-many-event-streams' })
      return reply
        .code(503)
        .header('retry-after', '10')
        .send({ error: 'TOO_MANY_STREAMS', message: 'too many live viewers; the page still works without' })
    }
    reply.hijack()
    reply.raw.writeHead(200, headers)
    if (!hub.add(reply.raw)) reply.raw.end()
    return reply
  })
}

/**
 * The status page and read-only API: on plain HTTP (7080) for reading, and on HTTPS
 * (7444, `tls` set) where logging in and actions live too. Built by a factory so
 * tests can inject().
 */
export function buildApiServer(deps: ApiDeps): FastifyInstance {
  const clock = deps.clock ?? systemClock()
  const hub = new SseHub(
    { clusterView: deps.clusterView, clock, log: deps.log, counters: deps.counters },
    { ...DEFAULT_SSE_LIMITS, ...deps.sseLimits },
  )
  let auth: Session | null = null
  const secure = deps.tls !== undefined
  const httpsUrl = deps.httpsUrl ?? (() => null)
  const app = Fastify({
    ...(deps.tls
      ? { https: { key: deps.tls.keyPem, cert: deps.tls.certPem, minVersion: tlsMinVersion } }
      : {}),
    logger: false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    // Stopping must not wait for viewers: browsers keep idle and pre-opened sockets
    // (which Node's idle reaping misses) for up to the 72 s keep-alive timeout.
    forceCloseConnections: true,
  })
  registerCookies(app)
  if (!secure) installPlainHttpGuards(app, { counters: deps.counters, httpsUrl })
  installGate(app, deps, { secure, httpsUrl, auth: () => auth })
  registerReadRoutes(app, deps)
  auth =
    deps.auth && secure
      ? registerAuthRoutes(app, { ...deps.auth, log: deps.log, counters: deps.counters, clock, secure })
      : null
  registerCaRoutes(app, {
    caPem: deps.caPem ?? (() => null),
    clusterName: () => deps.clusterView().cluster.name,
    httpsUrl,
  })
  app.get('/', async (req, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
    const https = secure ? null : httpsUrl(req.headers.host)
    return renderStatusPage(deps.clusterView(), clock.nowMs(), {
      csrf: auth?.sessionOf(req)?.csrf ?? null,
      loginUrl: secure ? LOGIN_PATH : https && new URL(LOGIN_PATH, https).href,
    })
  })
  registerAssetRoutes(app, new PageAssets(deps.assetsDir))
  registerEventStream(app, hub, deps.counters)
  deps.register?.(app)
  installErrorHandlers(app, deps.log, 'api')
  return app
}
