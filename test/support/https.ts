// A request to a lab node's HTTPS page trusting only the lab's CA (Node's fetch trusts
// the system store, which never holds a test cluster's CA).
import { request } from 'node:https'

export interface HttpsAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export function httpsRequest(
  url: string,
  init: { caPem: string; method?: string; body?: string; headers?: Record<string, string> },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method ?? 'GET', ca: init.caPem, headers: init.headers },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.setTimeout(10_000, () => req.destroy(new Error(`${url}: no answer in 10 s`)))
    req.on('error', reject)
    req.end(init.body)
  })
}
