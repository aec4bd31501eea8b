import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { HomecloudError } from '../agent/core/errors.js'
import { type AdminConfig, readAdminConfig } from '../agent/trust/admin-config.js'

export interface AdminResponse {
  status: number
  body: Record<string, unknown>
}

/** POST/GET to a node's 7443 API with the admin certificate; tries each URL until one answers. */
export async function adminCall(
  configPath: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<AdminResponse> {
  const config = await readAdminConfig(configPath)
  const material = await loadMaterial(config)
  let lastErr = ''
  for (const url of config.urls) {
    try {
      const r = await call(url, material, method, path, body)
      // A node without the CA key says so; another URL may be a signer.
      if (r.status === 409 && config.urls.length > 1) {
        lastErr = String(r.body.message)
        continue
      }
      return r
    } catch (err) {
      lastErr = `${url}: ${(err as Error).message}`
    }
  }
  throw new HomecloudError(
    'API_UNREACHABLE',
    `no node answered: ${lastErr}`,
    `check that the agent runs and that ${configPath} lists its https://NODE:7443 URL`,
  )
}

/** One request to one node's 7443 API (release uploads: a chosen node, raw bodies). */
export async function adminCallAt(
  configPath: string,
  base: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
  opts: { timeoutMs?: number } = {},
): Promise<AdminResponse> {
  const material = await loadMaterial(await readAdminConfig(configPath))
  try {
    return await call(base, material, method, path, body, opts.timeoutMs)
  } catch (err) {
    throw new HomecloudError(
      'API_UNREACHABLE',
      `${base}: ${(err as Error).message}`,
      'check that the agent runs there and listens on 7443',
    )
  }
}

async function loadMaterial(c: AdminConfig) {
  const read = async (p: string) => {
    try {
      return await readFile(p, 'utf8')
    } catch (err) {
      throw new HomecloudError('ADMIN_UNAUTHORIZED', `cannot read ${p}: ${(err as Error).message}`)
    }
  }
  return { ca: await read(c.caCert), cert: await read(c.cert), key: await read(c.key) }
}

function call(
  base: string,
  m: { ca: string; cert: string; key: string },
  method: string,
  path: string,
  body: unknown,
  timeoutMs = 5000,
): Promise<AdminResponse> {
  const url = new URL(path, base)
  const raw = Buffer.isBuffer(body)
  const payload = body === undefined ? undefined : raw ? body : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: m.ca,
        cert: m.cert,
        key: m.key,
        // Node certificates name the node id, not the address we dial: the chain is what we check.
        checkServerIdentity: () => undefined,
        timeout: timeoutMs,
        headers: payload
          ? {
              'content-type': raw ? 'application/octet-stream' : 'application/json',
              'content-length': payload.length,
            }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          let parsed: Record<string, unknown> = {}
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch {
            parsed = { raw: Buffer.concat(chunks).toString('utf8').slice(0, 200) }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    if (payload) req.write(payload)
    req.end()
  })
}
