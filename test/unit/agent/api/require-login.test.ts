import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { buildApiServer } from '../../../../agent/api/server.js'
import { AgentConfig } from '../../../../agent/config/schema.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { hashPassword } from '../../../../agent/core/password.js'
import { clusterView, tlsMaterial } from './fixtures.js'

const PASSWORD = 'correct horse battery staple'
const hash = await hashPassword(PASSWORD)
const dir = await mkdtemp(join(tmpdir(), 'hc-api-assets-'))
await writeFile(join(dir, 'browser.js'), 'export {}\n')
const material = await tlsMaterial()

/** The HTTPS page: logging in lives there (plain HTTP refuses it: plain-http.test.ts). */
function server(requireLogin: boolean | undefined, withAuth = true) {
  return buildApiServer({
    tls: material,
    log: silentLogger(),
    counters: new Counters(),
    clusterView: () => clusterView(),
    meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
    ready: () => true,
    assetsDir: dir,
    ...(requireLogin === undefined ? {} : { requireLogin }),
    ...(withAuth ? { auth: { passwordHash: () => hash, approve: () => null, signerUrl: () => null } } : {}),
  })
}

const READ_ROUTES = ['/', '/api/v1/cluster', '/api/v1/mesh', '/metrics', '/api/v1/events', '/nowhere']
const OPEN_ROUTES = ['/login', '/healthz', '/readyz', '/assets/icon.svg', '/assets/status.js']

describe('config: statusPage.requireLogin', () => {
  test('defaults to false (reading open on the LAN)', () => {
    assert.equal(AgentConfig.parse({}).statusPage.requireLogin, false)
    assert.equal(AgentConfig.parse({ statusPage: { requireLogin: true } }).statusPage.requireLogin, true)
    assert.equal(AgentConfig.safeParse({ statusPage: { requireLogin: 'yes' } }).success, false)
    assert.equal(AgentConfig.safeParse({ statusPage: { typo: true } }).success, false)
  })

  test('off: reading needs no session', async () => {
    const app = server(undefined)
    for (const url of ['/', '/api/v1/cluster', '/metrics']) {
      const res = await app.inject({ url })
      assert.equal(res.statusCode, 200, url)
    }
    await app.close()
  })
})

describe('requireLogin: true', () => {
  const app = server(true)
  before(() => app.ready())
  after(async () => {
    await app.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('every read route answers 401 JSON without a session', async () => {
    for (const url of [...READ_ROUTES, '/api/v1/cluster?x=1']) {
      const res = await app.inject({ url, headers: { accept: 'application/json' } })
      assert.equal(res.statusCode, 401, url)
      assert.equal(res.json().error, 'UNAUTHENTICATED', url)
      assert.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: security headers`)
    }
    const stream = await app.inject({ url: '/api/v1/events', headers: { accept: 'text/event-stream' } })
    assert.equal(stream.statusCode, 401)
  })

  test('browsers are sent to /login', async () => {
    const res = await app.inject({
      url: '/',
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    })
    assert.equal(res.statusCode, 303)
    assert.equal(res.headers.location, '/login')
    assert.doesNotMatch(res.body, /homecloud home/)
  })

  test('login, logout, health, readiness and assets stay open', async () => {
    for (const url of OPEN_ROUTES) {
      const res = await app.inject({ url, headers: { accept: 'text/html' } })
      assert.equal(res.statusCode, 200, url)
    }
    const out = await app.inject({
      method: 'POST',
      url: '/logout',
      payload: 'csrf=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    assert.equal(out.statusCode, 303)
  })

  test('a wrong password opens nothing; the right one opens every read route', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const wrong = await app.inject({ method: 'POST', url: '/login', payload: 'password=nope', headers: form })
    assert.equal(wrong.statusCode, 401)
    assert.equal(wrong.headers['set-cookie'], undefined)
    const login = await app.inject({
      method: 'POST',
      url: '/login',
      payload: new URLSearchParams({ password: PASSWORD }).toString(),
      headers: form,
    })
    assert.equal(login.statusCode, 303)
    const cookie = String(login.headers['set-cookie']).split(';')[0]!
    for (const url of ['/', '/api/v1/cluster', '/api/v1/mesh', '/metrics']) {
      const res = await app.inject({ url, headers: { cookie } })
      assert.equal(res.statusCode, 200, url)
    }
    const page = await app.inject({ url: '/', headers: { cookie, accept: 'text/html' } })
    assert.match(page.body, /<meta name="homecloud-csrf"/)
    const forged = await app.inject({ url: '/api/v1/cluster', headers: { cookie: 'hc_session=forged' } })
    assert.equal(forged.statusCode, 401)
  })
})

test('requireLogin without a password configured: only the open paths answer', async () => {
  const app = server(true, false)
  assert.equal((await app.inject({ url: '/api/v1/cluster' })).statusCode, 401)
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  await app.close()
})
