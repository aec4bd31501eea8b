import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { request } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, describe, test } from 'node:test'
import { LOGIN_ATTEMPTS_PER_MINUTE_MAX } from '../../../../agent/api/auth/routes.js'
import { caFingerprint } from '../../../../agent/api/ca-routes.js'
import { type ApiDeps, buildApiServer } from '../../../../agent/api/server.js'
import { httpsUrlFor } from '../../../../agent/api/status-servers.js'
import { Counters } from '../../../../agent/core/counters.js'
import { silentLogger } from '../../../../agent/core/log.js'
import { hashPassword } from '../../../../agent/core/password.js'
import { clusterView, tlsMaterial } from './fixtures.js'

const PASSWORD = 'correct horse battery staple'
const hash = await hashPassword(PASSWORD)
const material = await tlsMaterial()
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const HTTPS = 'https://127.0.0.1:7444/'

function deps(over: Partial<ApiDeps> = {}): ApiDeps {
  return {
    log: silentLogger(),
    counters: new Counters(),
    clusterView: () => clusterView(),
    meshInfo: () => ({ dhtAddress: null, bootstrapNodes: [], connections: 0, incarnation: 1 }),
    ready: () => true,
    auth: { passwordHash: () => hash, approve: () => null, signerUrl: () => null },
    caPem: () => material.caPem,
    ...over,
  }
}

describe('plain HTTP: reading only', () => {
  const counters = new Counters()
  const app = buildApiServer(deps({ counters, httpsUrl: () => HTTPS }))
  after(() => app.close())

  test('a password sent here is refused, not checked, and opens no session', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      payload: new URLSearchParams({ password: PASSWORD }).toString(),
      headers: FORM,
    })
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().error, 'PLAIN_HTTP_REFUSED')
    assert.equal(res.json().https, HTTPS)
    assert.equal(res.headers['set-cookie'], undefined)
    // Refused before the body is read: even a body no parser accepts gets the same answer.
    const garbage = await app.inject({
      method: 'POST',
      url: '/login',
      payload: 'x'.repeat(200_000),
      headers: { 'content-type': 'application/x-nothing' },
    })
    assert.equal(garbage.statusCode, 403)
    assert.equal(counters.get('homecloud_http_rejected_total', { reason: 'plain-http' }), 2)
    assert.equal(counters.get('homecloud_logins_total', { result: 'ok' }), 0)
  })

  test('every action and logout are refused too; a browser gets a page pointing at HTTPS', async () => {
    for (const url of ['/actions/approve', '/logout', '/actions/anything']) {
      const res = await app.inject({ method: 'POST', url, payload: 'node=x&csrf=y', headers: FORM })
      assert.equal(res.statusCode, 403, url)
    }
    const page = await app.inject({
      method: 'POST',
      url: '/login',
      payload: 'password=x',
      headers: { ...FORM, accept: 'text/html' },
    })
    assert.equal(page.statusCode, 403)
    assert.match(page.body, /<a href="https:\/\/127\.0\.0\.1:7444\/login">Log in over HTTPS<\/a>/)
    assert.match(page.body, /href="\/ca"/)
  })

  test('the login form is only on HTTPS; the page links there and to the CA', async () => {
    const login = await app.inject({ url: '/login' })
    assert.equal(login.statusCode, 303)
    assert.equal(login.headers.location, `${HTTPS}login`)
    const page = await app.inject({ url: '/' })
    assert.match(page.body, /<a class="account" href="https:\/\/127\.0\.0\.1:7444\/login">Log in<\/a>/)
    assert.match(page.body, /<a class="account" href="\/ca">Trust the cluster CA<\/a>/)
    assert.match(page.body, /<meta name="homecloud-login" content="https:\/\/127\.0\.0\.1:7444\/login">/)
  })

  test('without a certificate yet there is nowhere to log in, and the page says so', async () => {
    const joining = buildApiServer(deps({ httpsUrl: () => null, caPem: () => null }))
    assert.equal((await joining.inject({ url: '/login' })).statusCode, 503)
    const page = await joining.inject({ url: '/' })
    assert.doesNotMatch(page.body, /class="account" href=".*login/)
    assert.equal((await joining.inject({ url: '/ca.crt' })).statusCode, 503)
    await joining.close()
  })

  test('/ca shows the fingerprint openssl would; /ca.crt is the CA itself', async () => {
    const fp = new X509Certificate(material.caPem).fingerprint256
    assert.equal(caFingerprint(material.caPem), fp)
    const page = await app.inject({ url: '/ca' })
    assert.equal(page.statusCode, 200)
    assert.ok(page.body.includes(fp))
    assert.match(page.body, /homecloud ca --state/)
    const file = await app.inject({ url: '/ca.crt' })
    assert.equal(file.body, material.caPem)
    assert.match(String(file.headers['content-disposition']), /homecloud-ca\.crt/)
  })
})

function httpsRequest(
  port: number,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        ca: material.caPem,
        headers: init.headers,
      },
      (res) => {
        let body = ''
        res.on('data', (c) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

describe('HTTPS: the cluster CA vouches for the page, and logging in works there', () => {
  const counters = new Counters()
  const app = buildApiServer(deps({ counters, tls: material }))
  after(() => app.close())

  test('a client trusting only the cluster CA reads the page; the session cookie is Secure', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as AddressInfo).port
    const page = await httpsRequest(port, '/')
    assert.equal(page.status, 200)
    assert.match(page.body, /<a class="account" href="\/login">Log in<\/a>/)
    assert.doesNotMatch(page.body, /Trust the cluster CA/)
    const login = await httpsRequest(port, '/login', {
      method: 'POST',
      body: new URLSearchParams({ password: PASSWORD }).toString(),
      headers: FORM,
    })
    assert.equal(login.status, 303)
    const cookie = String(login.headers['set-cookie'])
    assert.match(cookie, /^hc_session=[\w-]{43}; Max-Age=28800; Path=\/; HttpOnly; Secure; SameSite=Strict$/)
    const loggedIn = await httpsRequest(port, '/', { headers: { cookie: cookie.split(';')[0]! } })
    assert.match(loggedIn.body, /<meta name="homecloud-csrf"/)
  })

  test(`login attempts are limited to ${LOGIN_ATTEMPTS_PER_MINUTE_MAX} a minute per source`, async () => {
    const limited = buildApiServer(deps({ counters, tls: material }))
    const attempt = () =>
      limited.inject({ method: 'POST', url: '/login', payload: 'password=wrong', headers: FORM })
    for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE_MAX; i++) assert.equal((await attempt()).statusCode, 401)
    const refused = await attempt()
    assert.equal(refused.statusCode, 429)
    assert.match(refused.body, /Too many attempts: wait a minute\./)
    assert.match(String(refused.headers['content-type']), /text\/html/)
    assert.equal(counters.get('homecloud_http_rejected_total', { reason: 'login-rate' }), 1)
    // Reading is not limited.
    assert.equal((await limited.inject({ url: '/' })).statusCode, 200)
    await limited.close()
  })
})

test('the HTTPS link keeps the name the reader used when this node answers to it', () => {
  const init = { host: '10.77.1.2', httpsPort: 7444, names: ['10.77.1.2', 'pi5-1'] }
  assert.equal(httpsUrlFor('pi5-1:7080', init), 'https://pi5-1:7444/')
  assert.equal(httpsUrlFor('10.77.1.2:7080', init), 'https://10.77.1.2:7444/')
  assert.equal(httpsUrlFor('evil.example:7080', init), 'https://10.77.1.2:7444/')
  assert.equal(httpsUrlFor(undefined, init), 'https://10.77.1.2:7444/')
  assert.equal(httpsUrlFor('[::1', init), 'https://10.77.1.2:7444/')
})
