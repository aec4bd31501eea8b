import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { buildApiServer } from '../../../../agent/api/server.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { clusterView, member } from './fixtures.js'

const dir = await mkdtemp(join(tmpdir(), 'hc-api-assets-'))
await writeFile(join(dir, 'browser.js'), "import { x } from './body.js'\n")
const view = clusterView({}, [
  member({ name: 'me', self: true }),
  member({ name: '<script>alert(1)</script>' }),
])
const app = buildApiServer({
  log: silentLogger(),
  counters: new Counters(),
  clusterView: () => view,
  meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
  ready: () => true,
  assetsDir: dir,
})
let base = ''
before(async () => {
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})
after(async () => {
  await app.close()
  await rm(dir, { recursive: true, force: true })
})

test('GET / is the status page, with security headers and no caching', async () => {
  const res = await fetch(`${base}/`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.equal(res.headers.get('cache-control'), 'no-store')
  const csp = res.headers.get('content-security-policy') ?? ''
  assert.match(csp, /default-src 'self'/)
  assert.match(csp, /script-src 'self';/)
  assert.doesNotMatch(csp, /script-src[^;]*unsafe/)
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  const html = await res.text()
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'))
  assert.ok(!html.includes('<script>alert'))
})

test('/assets/status.js is the browser module, cacheable by etag', async () => {
  const res = await fetch(`${base}/assets/status.js`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8')
  assert.equal(await res.text(), "import { x } from './body.js'\n")
  const etag = res.headers.get('etag')!
  const again = await fetch(`${base}/assets/status.js`, { headers: { 'if-none-match': etag } })
  assert.equal(again.status, 304)
  for (const p of [
    '/assets/body.js',
    '/assets/browser.js',
    '/assets/..%2Fserver.js',
    '/assets/',
    '/assets/x/y',
  ])
    assert.equal((await fetch(`${base}${p}`)).status, 404, p)
})

test('bad input is refused and the server carries on', async () => {
  const long = await fetch(`${base}/?q=${'x'.repeat(3000)}`)
  assert.equal(long.status, 414)
  for (const p of ['/?%zz=%E0%A4%A&a[=&&==', '/?a=1&a=2&a[b]=<script>', '/api/v1/cluster?%']) {
    const res = await fetch(`${base}${p}`)
    assert.equal(res.status, 200, p)
    await res.arrayBuffer()
  }
  for (const p of ['/nope', '/api/v1/nope', '/index.html', '/api/v1/approve']) {
    const res = await fetch(`${base}${p}`)
    assert.equal(res.status, 404, p)
    assert.deepEqual(await res.json(), { error: 'NOT_FOUND' })
  }
  const badPath = await fetch(`${base}/%zz`)
  assert.ok(badPath.status >= 400 && badPath.status < 500, `${badPath.status}`)
  const head = await fetch(`${base}/api/v1/events`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  const post = await fetch(`${base}/`, { method: 'POST', body: 'x' })
  assert.equal(post.status, 404)
  assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { ok: true })
})
