import { Agent, request } from 'node:https'
import type { Counters } from '../core/counters.js'

// GETs on another node's agent API (7443) with this node's agent certificate: mutual
// TLS both ways, and the answering certificate must name the node we meant to ask (its
// CN is the node id), so a member cannot answer in another's name. Answers are
// bounded in size and time, and every byte is counted (the cost of "same truth" and of
// peers' charts, measured in homecloud_peer_api_bytes_total).

export interface PeerTlsMaterial {
  certPem: string
  keyPem: string
  caPem: string
}

export interface PeerGet {
  /** e.g. "https://10.77.1.2:7443/api/v1/control-plane" */
  url: string
  /** The node id its certificate must carry. */
  nodeId: string
  bodyBytesMax: number
  timeoutMs: number
  /** Labels the byte counter ("control-plane", "stats"). */
  what: string
}

export class PeerApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export class PeerClient {
  private agent: Agent | null = null
  private agentFor: PeerTlsMaterial | null = null

  constructor(private readonly c: { material(): PeerTlsMaterial | null; counters: Counters }) {}

  /** The JSON body of a 200 answer; PeerApiError otherwise. */
  get(g: PeerGet): Promise<unknown> {
    return this.call('GET', g)
  }

  /** POSTs a JSON body (e.g. a CA-signed slot order); the answer as for get. */
  post(g: PeerGet & { body: string }): Promise<unknown> {
    return this.call('POST', g, g.body)
  }

  /**
   * Asks each voter in turn (GET, or POST with `body`) until one answers; the last error
   * when none does, `none` when there is nobody to ask. `refusalEnds`: a 4xx is the answer
   * (every voter would give it), so only an unreachable or failing voter moves it on.
   */
  async askEach(
    voters: readonly { id: string; url: string }[],
    r: Omit<PeerGet, 'url' | 'nodeId'> & { body?: string; none: Error; refusalEnds?: boolean },
  ): Promise<unknown> {
    let last: unknown = r.none
    for (const v of voters) {
      const g = {
        url: v.url,
        nodeId: v.id,
        bodyBytesMax: r.bodyBytesMax,
        timeoutMs: r.timeoutMs,
        what: r.what,
      }
      try {
        return await (r.body === undefined ? this.get(g) : this.post({ ...g, body: r.body }))
      } catch (err) {
        if (r.refusalEnds && err instanceof PeerApiError && err.status !== undefined && err.status < 500)
          throw err
        last = err
      }
    }
    throw last
  }

  private call(method: 'GET' | 'POST', g: PeerGet, payload?: string): Promise<unknown> {
    const m = this.c.material()
    if (!m) return Promise.reject(new PeerApiError('this node holds no certificate yet'))
    const agent = this.agentOf(m)
    return new Promise((resolve, reject) => {
      const req = request(
        g.url,
        {
          agent,
          checkServerIdentity: (_host, cert) =>
            cert.subject?.CN === g.nodeId
              ? undefined
              : new PeerApiError(`${g.url} answered as ${cert.subject?.CN ?? 'nobody'}, not ${g.nodeId}`),
          method,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          let over = false
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size > g.bodyBytesMax && !over) {
              over = true
              reject(new PeerApiError(`${g.url}: answer over ${g.bodyBytesMax} bytes`))
              res.destroy()
              return
            }
            chunks.push(c)
          })
          res.on('end', () => {
            if (over) return
            this.c.counters.inc('homecloud_peer_api_bytes_total', { what: g.what }, size)
            this.c.counters.inc('homecloud_peer_api_requests_total', { what: g.what })
            let body: unknown
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
            } catch {
              return reject(new PeerApiError(`${g.url}: answer is not JSON`, res.statusCode))
            }
            if (res.statusCode !== 200) {
              const msg = (body as { message?: unknown })?.message
              return reject(
                new PeerApiError(`${g.url}: HTTP ${res.statusCode}${msg ? `: ${msg}` : ''}`, res.statusCode),
              )
            }
            resolve(body)
          })
          res.on('error', reject)
        },
      )
      req.setTimeout(g.timeoutMs, () =>
        req.destroy(new PeerApiError(`${g.url}: no answer in ${g.timeoutMs} ms`)),
      )
      req.on('error', reject)
      req.end(payload)
    })
  }

  /** One keep-alive agent per certificate: a renewal starts fresh connections with the new one. */
  private agentOf(m: PeerTlsMaterial): Agent {
    if (this.agent && this.agentFor?.certPem === m.certPem && this.agentFor.caPem === m.caPem)
      return this.agent
    this.agent?.destroy()
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 2,
      maxFreeSockets: 1,
      cert: m.certPem,
      key: m.keyPem,
      ca: m.caPem,
      rejectUnauthorized: true,
    })
    this.agentFor = m
    return this.agent
  }

  close(): void {
    this.agent?.destroy()
    this.agent = null
  }
}
