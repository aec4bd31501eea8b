import { request } from 'node:https'

// One `/readyz` probe of an API server over HTTPS (anonymous: the default RBAC lets anyone
// read /readyz). The certificate is checked against the cluster CA and the name every API
// server certificate carries, so a stranger on that port never counts as healthy.

export interface ProbeInit {
  host: string
  port: number
  caPem: string
  servername: string
  timeoutMs: number
}

export function probeReadyz(p: ProbeInit): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: p.host,
        port: p.port,
        path: '/readyz',
        method: 'GET',
        ca: p.caPem,
        servername: p.servername,
        timeout: p.timeoutMs,
        agent: false,
      },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
    req.end()
  })
}
