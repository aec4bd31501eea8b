import { request } from 'node:https'
import { HomecloudError } from '../core/errors.js'
import { apiserverTlsName } from './kubeconfig.js'

// The few Kubernetes API calls the agent makes itself (register and keep its Node, label
// control-plane Nodes), as plain HTTPS with a client certificate through the local load
// balancer. Nothing here needs a watch or a client library.

export interface KubeHttpClientInit {
  host: string
  port: number
  caPem: string
  certPem: string
  keyPem: string
  timeoutMs?: number
}

export interface KubeResponse {
  status: number
  body: unknown
}

export class KubeHttpClient {
  constructor(private readonly init: KubeHttpClientInit) {}

  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    accept = 'application/json',
  ): Promise<KubeResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.init.host,
          port: this.init.port,
          method,
          path,
          ca: this.init.caPem,
          cert: this.init.certPem,
          key: this.init.keyPem,
          servername: apiserverTlsName,
          timeout: this.init.timeoutMs ?? 5000,
          agent: false,
          headers: {
            accept,
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (c: Buffer) => {
            size += c.length
            if (size <= 4 * 1024 * 1024) chunks.push(c)
          })
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown = text
            try {
              parsed = JSON.parse(text)
            } catch {}
            resolve({ status: res.statusCode ?? 0, body: parsed })
          })
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
      req.on('error', (err) =>
        reject(
          new HomecloudError(
            'KUBE_API',
            `${method} ${path}: ${err.message}`,
            'is an API server up? `homecloud status` shows the control plane',
            { cause: err },
          ),
        ),
      )
      req.end(payload)
    })
  }

  /** A 2xx or a KUBE_API error naming the status and the API's message. */
  async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<KubeResponse> {
    const r = await this.request(method, path, body, contentType)
    if (r.status >= 200 && r.status < 300) return r
    throw new HomecloudError('KUBE_API', `${method} ${path}: ${r.status} ${messageOf(r.body)}`)
  }
}

export function messageOf(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body)
    return String((body as { message: unknown }).message)
  return typeof body === 'string' ? body.slice(0, 300) : ''
}
