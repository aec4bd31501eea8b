import type { IncomingMessage } from 'node:http'
import { Agent, request } from 'node:https'
import type { z } from 'zod'
import { type Clock, systemClock } from '../core/clock.js'
import { LineSplitter } from '../core/lines.js'
import { EtcdError, etcdMessages } from './model/errors.js'

// HTTPS transport to etcd's v3 JSON gateway (grpc-gateway on the client port), with
// our etcd-client certificate. Why the gateway rather than etcdctl for the client:
// one keep-alive TLS connection per endpoint instead of a Go process per call (the
// coordinator polls health and renews a lease every few seconds on a 1 GB board),
// ids arrive as decimal strings (etcdctl -w json prints them as numbers too big for
// JS), and a dead endpoint fails at once instead of after etcdctl's ~2 s dial
// timeout. etcdctl is still used where it does real work: snapshots (snapshot.ts).

export interface ClientTls {
  caPem: string
  certPem: string
  keyPem: string
  /**
   * etcd user and password (etcd-auth.ts): the gateway hides the client certificate from
   * etcd's auth (it dials its own server), so a member's agent logs in for a token.
   */
  login?: EtcdLogin
  /** Made in memory (etcd-auth.ts gatewayTls): replace it after this wall time. */
  renewAtMs?: number
}

export interface EtcdLogin {
  name: string
  password: string
}

export interface GatewayInit {
  /** Client URLs, e.g. https://10.77.0.2:2379; tried in order, starting with the last that answered. */
  endpoints: readonly string[]
  tls: ClientTls
  requestTimeoutMs?: number
  responseBytesMax?: number
  socketsPerEndpointMax?: number
}

export const requestTimeoutMsDefault = 5000
export const responseBytesMaxDefault = 32 * 1024 * 1024
/** One line of a streamed answer (observe): a single event is small. */
export const streamLineBytesMax = 1024 * 1024

export interface CallOptions {
  /** Ask this endpoint only (status of one member, reads from one member). */
  endpoint?: string
  /** 0 = no timeout (campaign waits as long as it takes). */
  timeoutMs?: number
  signal?: AbortSignal
  /**
   * Safe to send again to another endpoint after a failure mid-request. A request that
   * failed before the connection was up is always tried on the next endpoint.
   */
  idempotent?: boolean
}

const GatewayErrorBody = {
  parse(json: unknown): { message: string; code?: number } | undefined {
    if (!json || typeof json !== 'object') return undefined
    const o = json as Record<string, unknown>
    const message =
      typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : undefined
    return message === undefined
      ? undefined
      : { message, code: typeof o.code === 'number' ? o.code : undefined }
  },
}

type Attempt = { ok: true; status: number; body: string } | { ok: false; error: Error; connected: boolean }

export class Gateway {
  readonly endpoints: readonly string[]
  private readonly agent: Agent
  private preferred = 0
  private readonly timeoutMs: number
  private readonly bytesMax: number
  private readonly login: EtcdLogin | undefined
  /** etcd's simple token while logged in; dropped when etcd says it is no longer valid. */
  private token: string | null = null

  constructor(
    init: GatewayInit,
    /** Request deadlines; the client's clock. */
    private readonly clock: Clock = systemClock(),
  ) {
    if (init.endpoints.length === 0) throw new EtcdError('ETCD_UNREACHABLE', 'no etcd endpoints given')
    this.endpoints = [...init.endpoints]
    this.timeoutMs = init.requestTimeoutMs ?? requestTimeoutMsDefault
    this.bytesMax = init.responseBytesMax ?? responseBytesMaxDefault
    this.login = init.tls.login
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: init.socketsPerEndpointMax ?? 8,
      ca: init.tls.caPem,
      cert: init.tls.certPem,
      key: init.tls.keyPem,
      minVersion: 'TLSv1.2',
    })
  }

  close(): void {
    this.agent.destroy()
  }

  /** POST a JSON body to a gateway path; the answer is checked against `schema`. */
  async call<S extends z.ZodType>(
    path: string,
    body: unknown,
    schema: S,
    opts: CallOptions = {},
  ): Promise<z.output<S>> {
    const json = await this.callRaw(path, body, opts)
    const parsed = schema.safeParse(json.body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new EtcdError(
        'ETCD_RESPONSE_INVALID',
        `etcd ${path}: ${issue?.path.join('.') || 'body'}: ${issue?.message}`,
        { endpoint: json.endpoint },
      )
    }
    return parsed.data
  }

  /** GET a plain path (/health, /version); never tries other endpoints. */
  async get(
    endpoint: string,
    path: string,
    timeoutMs = this.timeoutMs,
  ): Promise<{ status: number; body: string }> {
    const r = await this.attempt(endpoint, 'GET', path, undefined, timeoutMs)
    if (!r.ok) throw unreachable(endpoint, r.error)
    return { status: r.status, body: r.body }
  }

  /**
   * Sent once as is; when etcd wants a login (auth on, no token or an expired one) and we
   * have one, log in and send it once more.
   */
  private async callRaw(
    path: string,
    body: unknown,
    opts: CallOptions,
  ): Promise<{ body: unknown; endpoint: string }> {
    try {
      return await this.callOnce(path, body, opts)
    } catch (err) {
      if (!(await this.relogin(err, opts))) throw err
      return this.callOnce(path, body, opts)
    }
  }

  /** True when `err` asked for a login and a fresh token was obtained. */
  private async relogin(err: unknown, opts: { endpoint?: string; signal?: AbortSignal }): Promise<boolean> {
    if (!this.login || !(err instanceof EtcdError) || !needsLogin(err.failure.etcdMessage)) return false
    this.token = null
    const r = await this.callOnce(
      '/v3/auth/authenticate',
      { name: this.login.name, password: this.login.password },
      { endpoint: opts.endpoint, signal: opts.signal, idempotent: true },
    )
    const token = (r.body as { token?: unknown } | undefined)?.token
    if (typeof token !== 'string' || token === '') return false
    this.token = token
    return true
  }

  private async callOnce(
    path: string,
    body: unknown,
    opts: CallOptions,
  ): Promise<{ body: unknown; endpoint: string }> {
    const payload = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    const order = opts.endpoint ? [opts.endpoint] : this.rotation()
    let lastError: EtcdError | undefined
    for (const endpoint of order) {
      const r = await this.attempt(
        endpoint,
        'POST',
        path,
        payload,
        opts.timeoutMs ?? this.timeoutMs,
        opts.signal,
      )
      if (!r.ok) {
        lastError = unreachable(endpoint, r.error)
        if (opts.signal?.aborted) throw lastError
        if (r.connected && !opts.idempotent) throw lastError
        continue
      }
      const json = parseJson(r.body)
      if (r.status >= 200 && r.status < 300) {
        this.prefer(endpoint)
        return { body: json, endpoint }
      }
      const refusal = GatewayErrorBody.parse(json)
      const failure = {
        endpoint,
        httpStatus: r.status,
        grpcCode: refusal?.code,
        etcdMessage: refusal?.message,
      }
      lastError = new EtcdError(
        'ETCD_REQUEST_FAILED',
        // A refusal before the gateway (e.g. a named certificate once auth is on) is plain text.
        `etcd ${path} at ${endpoint}: ${refusal?.message ?? (r.body.trim().slice(0, 200) || `HTTP ${r.status}`)}`,
        failure,
      )
      // A learner answers only status and serializable reads; any voter will do.
      if (refusal?.message === etcdMessages.learnerRpc && !opts.endpoint) continue
      throw lastError
    }
    throw lastError ?? new EtcdError('ETCD_UNREACHABLE', 'no etcd endpoint answered')
  }

  /**
   * POST and read a stream of JSON lines ({result} or {error}) until it ends or is
   * aborted. One endpoint only (the preferred one): a broken stream is the caller's
   * signal to look again, not something to resume silently elsewhere.
   */
  async *stream(path: string, body: unknown, opts: { endpoint?: string; signal?: AbortSignal } = {}) {
    try {
      yield* this.streamOnce(path, body, opts)
    } catch (err) {
      // Only a refusal before the first result asks for a login (etcd checks at the start).
      if (!(await this.relogin(err, opts))) throw err
      yield* this.streamOnce(path, body, opts)
    }
  }

  private async *streamOnce(path: string, body: unknown, opts: { endpoint?: string; signal?: AbortSignal }) {
    const payload = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    const endpoint = opts.endpoint ?? this.endpoints[this.preferred]!
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        new URL(path, endpoint),
        { method: 'POST', agent: this.agent, signal: opts.signal, headers: this.headers(payload) },
        resolve,
      )
      req.on('error', (err) => reject(unreachable(endpoint, err)))
      req.end(payload)
    })
    if (res.statusCode !== 200) {
      // A refusal before the stream starts is one plain error body, like any call's.
      let text = ''
      for await (const chunk of res) if (text.length < streamLineBytesMax) text += String(chunk)
      const refusal = GatewayErrorBody.parse(parseJson(text))
      throw new EtcdError(
        'ETCD_REQUEST_FAILED',
        `etcd ${path}: ${refusal?.message ?? `HTTP ${res.statusCode}`}`,
        {
          endpoint,
          httpStatus: res.statusCode,
          grpcCode: refusal?.code,
          etcdMessage: refusal?.message,
        },
      )
    }
    const lines = new LineSplitter(streamLineBytesMax)
    try {
      for await (const chunk of res) {
        for (const line of lines.push(chunk as Buffer)) {
          const json = parseJson(line) as { result?: unknown; error?: unknown } | undefined
          if (json?.error !== undefined) {
            const refusal = GatewayErrorBody.parse(json.error)
            throw new EtcdError(
              'ETCD_REQUEST_FAILED',
              `etcd ${path}: ${refusal?.message ?? 'stream error'}`,
              {
                endpoint,
                grpcCode: refusal?.code,
                etcdMessage: refusal?.message,
              },
            )
          }
          if (json?.result !== undefined) yield json.result
        }
      }
    } catch (err) {
      if (err instanceof EtcdError) throw err
      if (opts.signal?.aborted) return
      throw unreachable(endpoint, err as Error)
    } finally {
      res.destroy()
    }
  }

  private headers(payload: string | undefined): Record<string, string | number> {
    const h: Record<string, string | number> = payload === undefined ? {} : jsonHeaders(payload)
    // grpc-gateway passes Authorization on as the `authorization` metadata etcd reads.
    if (this.token) h.authorization = this.token
    return h
  }

  private rotation(): string[] {
    const n = this.endpoints.length
    return Array.from({ length: n }, (_, i) => this.endpoints[(this.preferred + i) % n]!)
  }

  private prefer(endpoint: string): void {
    const i = this.endpoints.indexOf(endpoint)
    if (i >= 0) this.preferred = i
  }

  private attempt(
    endpoint: string,
    method: 'GET' | 'POST',
    path: string,
    payload: string | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Attempt> {
    return new Promise((resolve) => {
      let connected = false
      let settled = false
      const done = (a: Attempt) => {
        if (settled) return
        settled = true
        timer?.cancel()
        resolve(a)
      }
      const req = request(
        new URL(path, endpoint),
        { method, agent: this.agent, signal, headers: this.headers(payload) },
        (res) => {
          const chunks: Buffer[] = []
          let bytes = 0
          res.on('data', (c: Buffer) => {
            bytes += c.length
            if (bytes > this.bytesMax) {
              req.destroy(new Error(`answer larger than ${this.bytesMax} bytes`))
              return
            }
            chunks.push(c)
          })
          res.on('end', () =>
            done({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          )
          res.on('error', (error) => done({ ok: false, error, connected: true }))
        },
      )
      const timer =
        timeoutMs > 0
          ? this.clock.setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
          : undefined
      req.on('socket', (socket) => {
        // A reused keep-alive socket is connected already.
        if (!socket.connecting) connected = true
        else socket.once('secureConnect', () => (connected = true))
      })
      req.on('error', (error) => done({ ok: false, error, connected }))
      req.end(payload)
    })
  }
}

function jsonHeaders(payload: string): Record<string, string | number> {
  return { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
}

/**
 * etcd's refusals that a login (or a fresh token) may answer. Without a token etcd takes
 * a gateway request to be from the name on the certificate the gateway dials its own
 * server with (the member's etcd-server certificate), so "not found" and "denied" may
 * just mean "log in".
 */
const loginMessages: readonly string[] = [
  etcdMessages.userEmpty,
  etcdMessages.invalidAuthToken,
  etcdMessages.userNotFound,
  etcdMessages.permissionDenied,
]
function needsLogin(message: string | undefined): boolean {
  return message !== undefined && loginMessages.includes(message)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function unreachable(endpoint: string, err: Error): EtcdError {
  return new EtcdError(
    'ETCD_UNREACHABLE',
    `etcd at ${endpoint}: ${err.message}`,
    { endpoint },
    'check that the member runs and that this node holds a valid etcd-client certificate',
    err,
  )
}
